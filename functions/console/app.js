// The Outbound SMS console: a single page over the platform's HTTP API, signed in with an API key.
// A tenant's key opens the tenant's screens, an operator key the operator's; the API explorer
// needs no sign-in. Each screen is a module with load() and wire(); a new one is a PAGES entry.
import { ApiError, API_ROOT, api, apiKey, openapi, pageOf, rememberKey } from "./api.js";
import * as contacts from "./contacts.js";
import { $, clearProblems, commaList, el, formProblem, showError, statusBadge, toast } from "./dom.js";
import * as explorer from "./explorer.js";
import * as inbound from "./inbound.js";
import * as integrations from "./integrations.js";
import { inZone, openConfirm, useTimeZone, watchJob, wireConfirm } from "./jobs.js";
import * as lists from "./lists.js";
import { formatInstant, formatMicros, localInputToIso, parseDollars } from "./money.js";
import * as operator from "./operator.js";
import * as organization from "./organization.js";
import { zonedInputToIso } from "./zoned.js";

const TENANT = "tenant";
const OPERATOR = "operator";
const ANYONE = "anyone";
const ENTRY_KINDS = {
  credit: "Credit", purchase: "Purchase", auto_buy: "Auto-buy", debit: "Message",
  refund: "Refund", purchase_failed: "Purchase declined",
};

const state = { role: null, settings: null, catalog: null, messagesCursor: null, ledgerCursor: null };

// Every screen: who may open it and what fills it. The first of a role is where its sign-in lands.
const PAGES = {
  messages: { role: TENANT, load: () => loadMessages(true) },
  mass: { role: TENANT, load: () => loadMass() },
  lists: { role: TENANT, load: () => lists.load(state.settings) },
  contacts: { role: TENANT, load: () => contacts.load(state.settings) },
  organization: { role: TENANT, load: () => organization.load() },
  inbound: { role: TENANT, load: () => inbound.load() },
  integrations: { role: TENANT, load: () => integrations.load() },
  settings: { role: TENANT, load: () => loadSettings() },
  balance: { role: TENANT, load: () => loadBalance() },
  tenants: { role: OPERATOR, load: () => operator.loadTenantsPage() },
  reviews: { role: OPERATOR, load: () => operator.loadReviews() },
  codes: { role: OPERATOR, load: () => operator.loadCodes() },
  api: { role: ANYONE, load: () => explorer.load() },
};

function microsToInput(micros) {
  return formatMicros(micros).replace(/[$,]/g, "");
}

// ---- signing in and pages ----

function firstPage(role) {
  return Object.keys(PAGES).find((name) => PAGES[name].role === role);
}

function allowed(name) {
  const page = PAGES[name];
  return Boolean(page) && (page.role === ANYONE || page.role === state.role);
}

async function signIn(event) {
  event.preventDefault();
  const key = $("#api-key").value.trim();
  rememberKey(key);
  showError("#sign-in-error", null);
  try {
    await start();
    const asked = location.hash.replace(/^#\//, "");
    const target = `#/${allowed(asked) && asked !== "api" ? asked : firstPage(state.role)}`;
    if (location.hash === target) route();
    else location.hash = target; // the hashchange routes
  } catch (error) {
    rememberKey(null);
    const refused = error instanceof ApiError && (error.status === 401 || error.status === 403);
    showError("#sign-in-error", refused ? new Error("That API key was refused.") : error);
  }
}

// Which role the key has: a tenant's key reads its settings, an operator key the tenants.
async function start() {
  try {
    state.settings = await api("GET", "/v1/settings");
    state.role = TENANT;
    useTimeZone(state.settings.time_zone);
    $("#tenant-name").textContent = state.settings.name;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 403) throw error;
    await api("GET", "/v1/operator/tenants");
    state.role = OPERATOR;
    $("#tenant-name").textContent = "Operator";
  }
  document.body.dataset.role = state.role;
  for (const link of document.querySelectorAll("#nav a")) {
    const role = PAGES[link.dataset.page].role;
    link.hidden = role !== ANYONE && role !== state.role;
  }
  $("#nav").hidden = false;
  $("#sign-out").hidden = false;
}

function signOut() {
  rememberKey(null);
  // A fresh page: nothing of this tenant's (lists, choices, a job being followed) stays behind.
  location.replace(location.pathname);
}

function show(page) {
  for (const section of document.querySelectorAll(".page")) section.hidden = section.id !== `page-${page}`;
  for (const link of document.querySelectorAll("#nav a")) {
    const active = link.dataset.page === page;
    link.classList.toggle("active", active);
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.body.dataset.page = page;
  document.body.dataset.loading = "false";
}

async function route() {
  const asked = location.hash.replace(/^#\//, "");
  if (!state.role && asked !== "api") return show("sign-in");
  const name = allowed(asked) ? asked : firstPage(state.role);
  show(name);
  document.body.dataset.loading = "true";
  try {
    await PAGES[name].load();
  } catch (error) {
    toast(error.message);
  } finally {
    document.body.dataset.loading = "false";
  }
  const heading = $(`#page-${name} h1`);
  if (heading && document.activeElement === document.body) heading.focus({ preventScroll: true });
}

async function catalog() {
  state.catalog = state.catalog || (await api("GET", "/v1/saved-messages"));
  return state.catalog;
}

// ---- sent messages ----

function messageQuery() {
  const form = $("#message-filters");
  const params = new URLSearchParams();
  for (const name of ["status", "phone_number", "entity_id", "job_id", "trigger"]) {
    const value = form.elements[name].value.trim();
    if (value) params.set(name, value);
  }
  for (const name of ["created_from", "created_to"]) {
    const value = localInputToIso(form.elements[name].value);
    if (value) params.set(name, value);
  }
  return params;
}

async function fillTriggers() {
  const select = $("#message-filters").elements.trigger;
  if (select.options.length > 1) return;
  const triggers = (await catalog()).filter((entry) => entry.trigger).map((entry) => entry.trigger);
  for (const trigger of [...new Set(triggers)].sort()) select.append(el("option", { value: trigger, text: trigger }));
}

async function loadMessages(reset) {
  showError("#messages-error", null);
  const body = $("#messages-table tbody");
  try {
    await fillTriggers();
    const params = messageQuery();
    params.set("limit", "50");
    if (!reset && state.messagesCursor) params.set("cursor", state.messagesCursor);
    const page = await api("GET", `/v1/messages?${params}`);
    if (reset) body.replaceChildren();
    for (const message of page.items) body.append(messageRow(message));
    state.messagesCursor = page.next_cursor;
  } catch (error) {
    if (reset) body.replaceChildren();
    state.messagesCursor = null;
    showError("#messages-error", error);
  }
  $("#messages-more").hidden = !state.messagesCursor;
  $("#messages-empty").hidden = body.children.length > 0;
}

function messageRow(message) {
  return el("tr", { "data-id": message.id },
    el("td", {}, el("div", { class: "strong", text: message.recipient_name }),
      el("div", { class: "hint", text: message.contact_type })),
    el("td", {}, el("div", { text: message.related_entity }),
      el("div", { class: "hint", text: message.related_entity_type.replace("_", " ") })),
    el("td", { class: "mono", text: message.phone_number }),
    el("td", {}, el("button", { type: "button", class: "link", text: "View", onclick: () => openMessage(message.id) })),
    el("td", {}, statusBadge(message.status)),
    el("td", { text: message.reject_reason || "" }),
    el("td", { class: "nowrap", text: formatInstant(message.created_at) }));
}

async function openMessage(messageId) {
  try {
    const message = await api("GET", `/v1/messages/${encodeURIComponent(messageId)}`);
    $("#message-id").textContent = message.id;
    $("#message-body").textContent = message.body;
    const details = [
      ["Status", statusBadge(message.status)],
      ["Recipient", `${message.recipient_name} (${message.contact_type})`],
      ["Related entity", message.related_entity],
      ["Phone number", message.phone_number],
      ["Sending number", message.sending_number],
      ["Saved message", message.trigger ? `${message.saved_message} (trigger ${message.trigger})` : message.saved_message],
      ["Segments", `${message.segments} (${message.encoding})`],
      ["Price", formatMicros(message.price_micros)],
    ];
    if (message.reject_reason) details.push(["Reject reason", message.reject_reason]);
    if (message.job_id) details.push(["Mass message / list", message.job_id]);
    if (message.release_at) details.push(["Held until", `${formatInstant(message.release_at)} (${message.hold_rule})`]);
    $("#message-details").replaceChildren(...details.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", {}, value)]));
    $("#message-history").replaceChildren(...message.history.map((change) => el("li", {},
      el("span", { class: "nowrap", text: formatInstant(change.at) }), " ", statusBadge(change.status),
      change.reason ? ` ${change.reason}` : "", change.detail ? el("span", { class: "hint", text: ` ${change.detail}` }) : null)));
    $("#message-dialog").showModal();
  } catch (error) {
    toast(error.message);
  }
}

async function exportCsv() {
  showError("#messages-error", null);
  try {
    const response = await fetch(`${API_ROOT}/v1/messages.csv?${messageQuery()}`, {
      headers: { Authorization: `Bearer ${apiKey()}` },
    });
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
    const link = el("a", { href: URL.createObjectURL(await response.blob()), download: "messages.csv" });
    document.body.append(link);
    link.click();
    link.remove();
    const rows = Number(response.headers.get("X-Row-Count"));
    const counted = rows === 1 ? "1 row" : `${rows.toLocaleString()} rows`;
    toast(response.headers.get("Link") ? `Exported the first ${counted}; narrow the filters for the rest.` : `Exported ${counted}.`);
  } catch (error) {
    showError("#messages-error", error);
  }
}

// ---- mass messages ----

async function loadMass() {
  showError("#mass-error", null);
  const form = $("#mass-form");
  try {
    const templates = (await catalog()).filter((entry) => entry.kind === "mass");
    if (form.elements.saved_message.options.length === 0) {
      for (const template of templates) {
        form.elements.saved_message.append(el("option", { value: template.key, text: template.name }));
      }
      const sending = state.settings.sending_numbers;
      form.elements.sending_number.replaceChildren(...sending.map((number) => el("option", {
        value: number, text: number, selected: number === state.settings.default_sending_number,
      })));
      await fillSignatureChoices(form.elements.signature_id, state.settings.default_mass_signature_id);
      chooseTemplate();
    }
  } catch (error) {
    showError("#mass-error", error);
  }
  await loadJobs();
}

async function fillSignatureChoices(select, preferred) {
  try {
    const signatures = pageOf(await api("GET", "/v1/signatures")).items;
    select.replaceChildren(...signatures.map((signature) => el("option", {
      value: signature.id, text: signature.name, selected: signature.id === preferred,
    })));
  } catch {
    select.replaceChildren(el("option", { value: "", text: "The tenant's default" }));
  }
}

function chooseTemplate() {
  const form = $("#mass-form");
  const template = state.catalog.find((entry) => entry.key === form.elements.saved_message.value);
  if (!template) return;
  $("#mass-text").textContent = template.text;
  const hasEnd = "outage_end" in template.variables;
  $("#outage-end-field").hidden = !hasEnd;
  form.elements.outage_end.required = hasEnd;
  const others = Object.entries(template.variables).filter(([name]) => !name.startsWith("outage_"));
  const fieldset = $("#mass-variables");
  fieldset.replaceChildren(el("legend", { text: "Message fields" }), ...others.map(([name, type]) => el("label", {},
    name.replace(/_/g, " "), el("input", { name: `var-${name}`, "data-field": `variables.${name}`, "data-type": type, required: true,
      value: name === "company" ? state.settings.name : undefined }))));
  fieldset.hidden = others.length === 0;
}

function massRequest() {
  const form = $("#mass-form");
  const variables = {};
  for (const input of $("#mass-variables").querySelectorAll("input")) {
    const value = input.value.trim();
    variables[input.name.slice(4)] = input.dataset.type === "amount" ? Number.parseInt(value, 10) : value;
  }
  const request = {
    saved_message: form.elements.saved_message.value,
    outage_start: localInputToIso(form.elements.outage_start.value),
    variables,
    filters: {
      network_site_ids: commaList(form.elements.network_site_ids.value),
      account_statuses: commaList(form.elements.account_statuses.value),
      account_groups: commaList(form.elements.account_groups.value),
      contact_types: commaList(form.elements.contact_types.value),
    },
  };
  if (!$("#outage-end-field").hidden) request.outage_end = localInputToIso(form.elements.outage_end.value);
  if (form.elements.signature_id.value) request.signature_id = form.elements.signature_id.value;
  if (form.elements.sending_number.value) request.sending_number = form.elements.sending_number.value;
  return request;
}

async function previewMass(event) {
  event.preventDefault();
  clearProblems($("#mass-form"));
  try {
    const job = await api("POST", "/v1/mass-messages", massRequest());
    await openConfirm("mass-messages", job, (jobId, confirmed) => (confirmed ? watchMass(jobId) : loadJobs()), $("#mass-wait"));
  } catch (error) {
    formProblem($("#mass-form"), error);
  }
}

async function loadJobs() {
  try {
    const jobs = pageOf(await api("GET", "/v1/mass-messages")).items;
    $("#jobs-table tbody").replaceChildren(...jobs.map((job) => el("tr", { "data-id": job.id },
      el("td", { class: "nowrap", text: formatInstant(job.created_at) }),
      el("td", { text: job.saved_message }),
      el("td", {}, el("div", { text: job.status }),
        job.status === "scheduled" ? el("div", { class: "hint", text: inZone(job.send_at) }) : null),
      el("td", { class: "num", text: job.preview ? job.preview.recipients.toLocaleString() : "–" }),
      el("td", { class: "num", text: job.preview ? formatMicros(job.preview.total_micros) : "–" }),
      el("td", { class: "nowrap" },
        el("button", { type: "button", class: "link", text: "Messages", onclick: () => showJobMessages(job.id) }), " ",
        job.status === "previewed"
          ? el("button", { type: "button", class: "link", text: "Preview", onclick: () => previewAgain(job.id) })
          : el("button", { type: "button", class: "link", text: "Follow", onclick: () => watchMass(job.id) })))));
  } catch (error) {
    showError("#mass-error", error);
  }
}

async function previewAgain(jobId) {
  try {
    const job = await api("POST", `/v1/mass-messages/${jobId}/preview`);
    await openConfirm("mass-messages", job, (id, confirmed) => (confirmed ? watchMass(id) : loadJobs()), $("#mass-wait"));
  } catch (error) {
    showError("#mass-error", error);
  }
}

function watchMass(jobId) {
  watchJob("mass-messages", jobId, $("#mass-progress"), () => loadJobs());
}

function showJobMessages(jobId) {
  const form = $("#message-filters");
  form.reset();
  form.elements.job_id.value = jobId;
  location.hash = "#/messages";
}

// ---- settings and signatures ----

async function loadSettings() {
  showError("#settings-error", null);
  try {
    state.settings = await api("GET", "/v1/settings");
    useTimeZone(state.settings.time_zone);
    const settings = state.settings;
    const form = $("#settings-form");
    form.elements.sms_enabled.checked = settings.sms_enabled;
    form.elements.quiet_hours_on.checked = Boolean(settings.quiet_hours);
    form.elements.quiet_start.value = settings.quiet_hours ? settings.quiet_hours.start : "21:00";
    form.elements.quiet_end.value = settings.quiet_hours ? settings.quiet_hours.end : "08:00";
    form.elements.hold_mass_messages.checked = settings.hold_mass_messages;
    form.elements.recipient_local_window.checked = settings.recipient_local_window;
    form.elements.smart_encoding.checked = Boolean(settings.smart_encoding);
    form.elements.three_a_day_rule.checked = Boolean(settings.three_a_day_rule);
    $("#time-zone").textContent = settings.time_zone;
    $("#segment-price").textContent = formatMicros(settings.price_per_segment_micros);
  } catch (error) {
    showError("#settings-error", error);
  }
  await loadSignatures();
}

async function saveSettings(event) {
  event.preventDefault();
  const form = event.target;
  clearProblems(form);
  const change = {
    sms_enabled: form.elements.sms_enabled.checked,
    quiet_hours: form.elements.quiet_hours_on.checked
      ? { start: form.elements.quiet_start.value, end: form.elements.quiet_end.value }
      : null,
    hold_mass_messages: form.elements.hold_mass_messages.checked,
    recipient_local_window: form.elements.recipient_local_window.checked,
    smart_encoding: form.elements.smart_encoding.checked,
    three_a_day_rule: form.elements.three_a_day_rule.checked,
  };
  try {
    state.settings = await api("PATCH", "/v1/settings", change);
    toast("Settings saved.");
  } catch (error) {
    formProblem(form, error);
  }
}

async function loadSignatures() {
  showError("#signature-error", null);
  try {
    const [signaturePage, departmentPage, document] = await Promise.all([
      api("GET", "/v1/signatures"), api("GET", "/v1/departments"), openapi(),
    ]);
    const signatures = pageOf(signaturePage).items;
    const departments = pageOf(departmentPage).items;
    const departmentName = Object.fromEntries(departments.map((d) => [d.department_id, d.name]));
    $("#signatures-table tbody").replaceChildren(...signatures.map((signature) => el("tr", { "data-id": signature.id },
      el("td", { class: "strong", text: signature.name }),
      el("td", { text: departmentName[signature.department_id] || signature.department_id }),
      el("td", { text: signature.text }),
      el("td", { text: [signature.default_for_mass && "mass", signature.default_for_triggered && "triggered"].filter(Boolean).join(", ") }),
      el("td", {}, el("button", { type: "button", class: "link danger", text: "Delete", onclick: () => deleteSignature(signature) })))));
    const form = $("#signature-form");
    form.elements.department_id.replaceChildren(...departments.map((d) => el("option", { value: d.department_id, text: d.name })));
    const texts = document.components.schemas.SignatureText.enum;
    form.elements.text.replaceChildren(...texts.map((text) => el("option", { value: text, text })));
  } catch (error) {
    showError("#signature-error", error);
  }
}

async function createSignature(event) {
  event.preventDefault();
  const form = event.target;
  clearProblems(form);
  try {
    await api("POST", "/v1/signatures", {
      name: form.elements.name.value.trim(),
      department_id: form.elements.department_id.value,
      text: form.elements.text.value,
      default_for_mass: form.elements.default_for_mass.checked,
      default_for_triggered: form.elements.default_for_triggered.checked,
    });
    form.reset();
    toast("Signature created.");
    await loadSignatures();
  } catch (error) {
    formProblem(form, error);
  }
}

async function deleteSignature(signature) {
  if (!window.confirm(`Delete the signature '${signature.name}'?`)) return;
  try {
    await api("DELETE", `/v1/signatures/${encodeURIComponent(signature.id)}`);
    await loadSignatures();
  } catch (error) {
    showError("#signature-error", error);
  }
}

// ---- balance, ledger and auto-buy ----

async function loadBalance() {
  showError("#auto-buy-error", null);
  try {
    const balance = await api("GET", "/v1/balance");
    $("#balance-amount").textContent = formatMicros(balance.balance_micros);
    $("#balance-pending").textContent = balance.pending_purchase
      ? `An auto-buy of ${formatMicros(balance.pending_purchase.amount_micros)} is on its way.` : "";
    const form = $("#auto-buy-form");
    form.elements.enabled.checked = balance.auto_buy.enabled;
    form.elements.threshold.value = microsToInput(balance.auto_buy.threshold_micros);
    form.elements.amount.value = microsToInput(balance.auto_buy.amount_micros);
  } catch (error) {
    showError("#auto-buy-error", error);
  }
  await loadLedger(true);
}

async function loadLedger(reset) {
  const body = $("#ledger-table tbody");
  try {
    const params = new URLSearchParams({ limit: "20" });
    if (!reset && state.ledgerCursor) params.set("cursor", state.ledgerCursor);
    const page = await api("GET", `/v1/balance/ledger?${params}`);
    if (reset) body.replaceChildren();
    for (const entry of page.items) {
      body.append(el("tr", { "data-id": entry.id },
        el("td", { class: "nowrap", text: formatInstant(entry.at) }),
        el("td", { text: ENTRY_KINDS[entry.kind] || entry.kind }),
        el("td", { class: `num ${entry.amount_micros < 0 ? "negative" : "positive"}`, text: formatMicros(entry.amount_micros) }),
        el("td", {}, entry.message_id
          ? el("button", { type: "button", class: "link mono", text: entry.message_id, onclick: () => openMessage(entry.message_id) })
          : ""),
        el("td", { text: [entry.reference, entry.note].filter(Boolean).join(" · ") })));
    }
    state.ledgerCursor = page.next_cursor;
  } catch (error) {
    state.ledgerCursor = null;
    showError("#auto-buy-error", error);
  }
  $("#ledger-more").hidden = !state.ledgerCursor;
}

async function saveAutoBuy(event) {
  event.preventDefault();
  const form = event.target;
  clearProblems(form);
  try {
    await api("PUT", "/v1/balance/auto-buy", {
      enabled: form.elements.enabled.checked,
      threshold_micros: parseDollars(form.elements.threshold.value || "0"),
      amount_micros: parseDollars(form.elements.amount.value || "0"),
    });
    toast("Auto-buy saved.");
    await loadBalance();
  } catch (error) {
    formProblem(form, error);
  }
}

async function buyFunds(event) {
  event.preventDefault();
  const form = event.target;
  clearProblems(form);
  try {
    const amount = parseDollars(form.elements.amount.value);
    await api("POST", "/v1/balance/purchases", { amount_micros: amount }, { "Idempotency-Key": crypto.randomUUID() });
    form.reset();
    toast(`Bought ${formatMicros(amount)}.`);
    await loadBalance();
  } catch (error) {
    formProblem(form, error);
  }
}

// ---- wiring ----

function wire() {
  $("#sign-in-form").addEventListener("submit", signIn);
  $("#sign-out").addEventListener("click", signOut);
  $("#message-filters").addEventListener("submit", (event) => { event.preventDefault(); loadMessages(true); });
  $("#message-filters").addEventListener("reset", () => setTimeout(() => loadMessages(true)));
  $("#messages-more").addEventListener("click", () => loadMessages(false));
  $("#export-csv").addEventListener("click", exportCsv);
  $("#mass-form").addEventListener("submit", previewMass);
  $("#mass-form").elements.saved_message.addEventListener("change", chooseTemplate);
  wireConfirm();
  $("#settings-form").addEventListener("submit", saveSettings);
  $("#signature-form").addEventListener("submit", createSignature);
  $("#auto-buy-form").addEventListener("submit", saveAutoBuy);
  $("#purchase-form").addEventListener("submit", buyFunds);
  $("#ledger-more").addEventListener("click", () => loadLedger(false));
  for (const module of [contacts, organization, lists, inbound, integrations, operator, explorer]) module.wire();
  window.addEventListener("hashchange", route);
}

async function boot() {
  wire();
  window.smsConsole = { formatMicros, parseDollars, localInputToIso, zonedInputToIso };
  if (apiKey()) {
    try {
      await start();
    } catch {
      rememberKey(null);
    }
  }
  await route();
  document.body.dataset.ready = "true";
}

boot();
