// Integrations: where the platform posts to a tenant's own endpoints. The reply webhook (each reply)
// and the status callback (each message's Sent, Delivered, Failed, Insufficient funds), each with
// its signing secret shown once; and the callback's delivery log, attempt by attempt.
import { ApiError, Pager, api } from "./api.js";
import { $, badge, cell, el, onSubmit, pagerButton, showError, toast } from "./dom.js";
import { formatInstant } from "./money.js";

const OUTCOMES = { delivered: "delivered", failed: "failed", circuit_open: "circuit open", gave_up: "gave up" };

// One endpoint's form: its URL and state, saved (the secret shown once) or removed.
const ENDPOINTS = {
  webhook: {
    path: "/v1/reply-webhook",
    on: "Replies are posted to this URL",
    off: "No reply webhook: replies are kept here and on the event bus only.",
    removed: "Replies are no longer posted.",
  },
  callback: {
    path: "/v1/status-callback",
    on: "Status changes are posted to this URL",
    off: "No status callback: status changes go to the event bus only.",
    removed: "Status changes are no longer posted.",
  },
};

const deliveries = new Pager("/v1/status-callback/deliveries", () => ({}), {
  limit: 25,
  onPage(items, reset) {
    const body = $("#deliveries-table tbody");
    if (reset) body.replaceChildren();
    body.append(...items.map((attempt) => el("tr", { "data-event": attempt.event_id, "data-attempt": String(attempt.attempt) },
      cell(formatInstant(attempt.attempted_at), "nowrap"),
      el("td", {}, el("div", { class: "mono", text: attempt.event_id }),
        el("div", { class: "hint mono", text: attempt.message_id })),
      cell(attempt.attempt, "num"),
      el("td", {}, badge(OUTCOMES[attempt.outcome] || attempt.outcome, attempt.outcome === "delivered" ? "delivered" : "failed")),
      cell(attempt.http_status ?? "–", "num"),
      el("td", { class: "mono", text: attempt.response || "" }),
      cell(attempt.duration_ms === null || attempt.duration_ms === undefined ? "" : `${attempt.duration_ms} ms`, "num"))));
    $("#deliveries-empty").hidden = body.children.length > 0;
  },
});

let deliveryList;

async function loadEndpoint(name) {
  const { path, on, off } = ENDPOINTS[name];
  const form = $(`#${name}-form`);
  $(`#${name}-secret`).hidden = true;
  try {
    const registered = await api("GET", path);
    form.elements.url.value = registered.url;
    $(`#${name}-state`).textContent = `${on} (since ${formatInstant(registered.created_at)}).`;
    $(`#${name}-delete`).hidden = false;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    form.elements.url.value = "";
    $(`#${name}-state`).textContent = off;
    $(`#${name}-delete`).hidden = true;
  }
}

async function saveEndpoint(name, form) {
  const registered = await api("PUT", ENDPOINTS[name].path, { url: form.elements.url.value.trim() });
  await loadEndpoint(name);
  $(`#${name}-secret`).hidden = false;
  $(`#${name}-secret-value`).textContent = registered.secret;
}

async function deleteEndpoint(name) {
  try {
    await api("DELETE", ENDPOINTS[name].path);
    toast(ENDPOINTS[name].removed);
    await loadEndpoint(name);
  } catch (error) {
    showError(`#${name}-form .error`, error);
  }
}

export async function load() {
  showError("#deliveries-error", null);
  for (const name of Object.keys(ENDPOINTS)) {
    try {
      await loadEndpoint(name);
    } catch (error) {
      showError(`#${name}-form .error`, error);
    }
  }
  await deliveryList.reset();
}

export function wire() {
  deliveryList = pagerButton("#deliveries-more", deliveries, (error) => showError("#deliveries-error", error));
  for (const name of Object.keys(ENDPOINTS)) {
    onSubmit($(`#${name}-form`), (form) => saveEndpoint(name, form));
    $(`#${name}-delete`).addEventListener("click", () => deleteEndpoint(name));
  }
  $("#deliveries-refresh").addEventListener("click", () => {
    showError("#deliveries-error", null);
    deliveryList.reset();
  });
}
