// Inbound: recipients' replies with their keyword, and the opt-out list of a scope with each
// number's audit trail (add and remove). The reply webhook is under Integrations.
import { ApiError, Pager, api } from "./api.js";
import { $, badge, button, cell, el, onSubmit, pagerButton, showError, toast } from "./dom.js";
import { formatInstant } from "./money.js";

const ACTIONS = { opted_out: "opted out", opted_in: "opted back in" };
const KEYWORDS = { opt_out: "opt-out", opt_in: "opt-in", help: "help", none: "reply" };

const replies = new Pager("/v1/replies", () => ({}), {
  limit: 25,
  onPage(items, reset) {
    const body = $("#replies-table tbody");
    if (reset) body.replaceChildren();
    body.append(...items.map((reply) => el("tr", { "data-id": reply.id },
      cell(formatInstant(reply.received_at), "nowrap"), cell(reply.from_number, "mono"), cell(reply.to_number, "mono"),
      el("td", { dir: "auto", text: reply.body }),
      el("td", {}, badge(KEYWORDS[reply.keyword] || reply.keyword, `keyword-${reply.keyword}`),
        reply.opt_out_scope ? el("div", { class: "hint", text: reply.opt_out_scope }) : null),
      cell(reply.webhook || ""))));
    $("#replies-empty").hidden = body.children.length > 0;
  },
});

function scopeParams() {
  const scope = $("#opt-out-scope-form").elements.scope.value.trim();
  return scope ? { scope } : {};
}

const optOuts = new Pager("/v1/opt-outs", scopeParams, {
  limit: 50,
  onPage(items, reset, payload) {
    $("#opt-outs-scope").textContent = payload.scope;
    const body = $("#opt-outs-table tbody");
    if (reset) body.replaceChildren();
    body.append(...items.map((entry) => el("tr", { "data-number": entry.phone_number },
      cell(entry.phone_number, "mono"), cell(formatInstant(entry.opted_out_at), "nowrap"), cell(entry.source),
      cell(entry.actor), cell(entry.note || ""),
      el("td", { class: "nowrap" }, button("Audit trail", () => showTrail(entry.phone_number, entry.scope)), " ",
        button("Remove", () => removeOptOut(entry.phone_number, entry.scope), "link danger")))));
    $("#opt-outs-empty").hidden = body.children.length > 0;
  },
});

let replyList;
let optOutList;

async function showTrail(number, scope) {
  const query = scope ? `?${new URLSearchParams({ scope })}` : "";
  const status = await api("GET", `/v1/opt-outs/${encodeURIComponent(number)}${query}`);
  const panel = $("#opt-out-trail");
  panel.hidden = false;
  $("#trail-title").textContent = `${status.phone_number} in ${status.scope}: ${status.opted_out ? "opted out" : "not opted out"}`;
  $("#trail-list").replaceChildren(...status.history.map((change) => el("li", {},
    el("span", { class: "nowrap", text: formatInstant(change.at) }), " ",
    badge(ACTIONS[change.action] || change.action, change.action === "opted_in" ? "delivered" : "failed"), " ",
    `${change.source}, ${change.actor}`, change.note ? el("span", { class: "hint", text: ` ${change.note}` }) : null)));
  if (!status.history.length) $("#trail-list").replaceChildren(el("li", { class: "hint", text: "No changes recorded." }));
}

async function removeOptOut(number, scope) {
  if (!window.confirm(`Remove the opt-out of ${number} in ${scope}?`)) return;
  try {
    const query = new URLSearchParams({ scope, note: "removed in the console" });
    await api("DELETE", `/v1/opt-outs/${encodeURIComponent(number)}?${query}`);
    toast(`${number} may receive messages again in ${scope}.`);
    await optOutList.reset();
    await showTrail(number, scope);
  } catch (error) {
    showError("#opt-outs-error", error);
  }
}

async function addOptOut(form) {
  const number = form.elements.phone_number.value.trim();
  const scope = form.elements.scope.value.trim() || $("#opt-out-scope-form").elements.scope.value.trim();
  const body = { note: form.elements.note.value.trim() || null };
  if (scope) body.scope = scope;
  if (!number) throw new ApiError(400, { detail: "enter a phone number", field: "phone_number" });
  const status = await api("PUT", `/v1/opt-outs/${encodeURIComponent(number)}`, body);
  form.reset();
  toast(`${status.phone_number} is opted out in ${status.scope}.`);
  await optOutList.reset();
  await showTrail(status.phone_number, status.scope);
}

async function lookUp(form) {
  const number = form.elements.phone_number.value.trim();
  if (!number) throw new ApiError(400, { detail: "enter a phone number", field: "phone_number" });
  const scope = $("#opt-out-scope-form").elements.scope.value.trim();
  await showTrail(number, scope || null);
}

export async function load() {
  for (const id of ["#replies-error", "#opt-outs-error"]) showError(id, null);
  $("#opt-out-trail").hidden = true;
  await replyList.reset();
  await optOutList.reset();
}

export function wire() {
  replyList = pagerButton("#replies-more", replies, (error) => showError("#replies-error", error));
  optOutList = pagerButton("#opt-outs-more", optOuts, (error) => showError("#opt-outs-error", error));
  onSubmit($("#opt-out-scope-form"), async () => {
    showError("#opt-outs-error", null);
    await optOutList.reset(true);
  });
  onSubmit($("#opt-out-add-form"), addOptOut);
  onSubmit($("#opt-out-lookup-form"), lookUp);
}
