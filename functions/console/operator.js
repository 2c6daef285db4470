// The operator's screens (an operator key): tenants with their price, sending numbers and default,
// API keys (shown once), credits, the template review queue and the transport code registry.
import { ApiError, api, enumValues, pageOf } from "./api.js";
import { $, $$, button, cell, clearProblems, commaList, el, onSubmit, showError, toast } from "./dom.js";
import { formatMicros, parseDollars } from "./money.js";

const context = { tenants: [], chosen: null };

// A dollar field: read as integer micros; a bad amount is a problem beside the field it fills.
function dollars(form, name, field) {
  try {
    return parseDollars(form.elements[name].value);
  } catch (error) {
    throw new ApiError(400, { detail: error.message, field });
  }
}

// ---- tenants, keys and credits ----

async function loadTenants() {
  context.tenants = pageOf(await api("GET", "/v1/operator/tenants")).items;
  $("#tenants-table tbody").replaceChildren(...context.tenants.map((tenant) => el("tr", { "data-id": tenant.tenant_id },
    el("td", {}, el("div", { class: "strong", text: tenant.name }), el("div", { class: "hint mono", text: tenant.tenant_id })),
    cell(tenant.sms_enabled ? "on" : "off"), cell(formatMicros(tenant.price_per_segment_micros), "num"),
    el("td", {}, tenant.sending_numbers.map((number) => el("div", { class: "mono",
      text: number === tenant.default_sending_number ? `${number} (default)` : number }))),
    el("td", {}, button("Manage", () => chooseTenant(tenant.tenant_id))))));
  if (context.chosen) chooseTenant(context.chosen);
}

function chooseTenant(tenantId) {
  const tenant = context.tenants.find((entry) => entry.tenant_id === tenantId);
  if (!tenant) return;
  context.chosen = tenantId;
  const panel = $("#tenant-panel");
  panel.hidden = false;
  $("#tenant-panel-title").textContent = `${tenant.name} (${tenant.tenant_id})`;
  for (const form of $$("form", panel)) clearProblems(form);
  const form = $("#tenant-change-form");
  form.elements.name.value = tenant.name;
  form.elements.price.value = formatMicros(tenant.price_per_segment_micros).replace(/[$,]/g, "");
  form.elements.sending_numbers.value = tenant.sending_numbers.join(", ");
  fillDefault(tenant.sending_numbers, tenant.default_sending_number);
  $("#issued-key").hidden = true;
}

function fillDefault(numbers, chosen) {
  const select = $("#tenant-change-form").elements.default_sending_number;
  select.replaceChildren(...numbers.map((number) => el("option", { value: number, text: number, selected: number === chosen })));
}

async function createTenant(form) {
  const body = {
    tenant_id: form.elements.tenant_id.value.trim(),
    name: form.elements.name.value.trim(),
    time_zone: form.elements.time_zone.value.trim() || "America/New_York",
    price_per_segment_micros: dollars(form, "price", "price_per_segment_micros"),
    sending_numbers: commaList(form.elements.sending_numbers.value),
  };
  const tenant = await api("POST", "/v1/operator/tenants", body);
  form.reset();
  toast(`Tenant ${tenant.tenant_id} created (SMS off until the tenant enables it).`);
  context.chosen = tenant.tenant_id;
  await loadTenants();
}

async function changeTenant(form) {
  const body = {
    name: form.elements.name.value.trim(),
    price_per_segment_micros: dollars(form, "price", "price_per_segment_micros"),
    sending_numbers: commaList(form.elements.sending_numbers.value),
    default_sending_number: form.elements.default_sending_number.value || null,
  };
  await api("PATCH", `/v1/operator/tenants/${encodeURIComponent(context.chosen)}`, body);
  toast("Tenant saved.");
  await loadTenants();
}

async function issueKey(form) {
  const permissions = $$("input[name=permissions]:checked", form).map((box) => box.value);
  const issued = await api("POST", `/v1/operator/tenants/${encodeURIComponent(context.chosen)}/api-keys`, {
    name: form.elements.name.value.trim(), permissions,
  });
  form.reset();
  $("#issued-key").hidden = false;
  $("#issued-key-value").textContent = issued.api_key;
  $("#issued-key-permissions").textContent = issued.permissions.join(", ");
}

async function addCredit(form) {
  const body = {
    amount_micros: dollars(form, "amount", "amount_micros"),
    reference: form.elements.reference.value.trim(),
  };
  const note = form.elements.note.value.trim();
  if (note) body.note = note;
  const entry = await api("POST", `/v1/operator/tenants/${encodeURIComponent(context.chosen)}/credits`, body);
  form.reset();
  toast(`Credited ${formatMicros(entry.amount_micros)} (${entry.reference}).`);
}

export async function loadTenantsPage() {
  showError("#tenants-error", null);
  try {
    await loadTenants();
  } catch (error) {
    showError("#tenants-error", error);
  }
}

// ---- template reviews ----

export async function loadReviews() {
  showError("#reviews-error", null);
  try {
    const pending = pageOf(await api("GET", "/v1/operator/templates")).items;
    $("#reviews-table tbody").replaceChildren(...pending.map((template) => {
      const note = el("input", { name: "note", "aria-label": `Review note for ${template.name}`, maxlength: "500" });
      const review = async (approve) => {
        try {
          await api("POST", `/v1/operator/tenants/${encodeURIComponent(template.tenant_id)}/templates/${encodeURIComponent(template.id)}/review`,
            { approve, note: note.value.trim() || null });
          toast(`${template.name} ${approve ? "approved" : "rejected"}.`);
          await loadReviews();
        } catch (error) {
          showError("#reviews-error", error);
        }
      };
      return el("tr", { "data-id": template.id, "data-tenant": template.tenant_id },
        cell(template.tenant_id, "mono"), cell(template.name, "strong"), el("td", { dir: template.direction, text: template.text }),
        cell(Object.entries(template.variables).map(([name, type]) => `${name}: ${type}`).join(", ")),
        el("td", {}, note), el("td", { class: "nowrap" }, button("Approve", () => review(true)), " ",
          button("Reject", () => review(false), "link danger")));
    }));
    $("#reviews-empty").hidden = pending.length > 0;
  } catch (error) {
    showError("#reviews-error", error);
  }
}

// ---- transport codes ----

function editCode(code) {
  const form = $("#code-form");
  clearProblems(form);
  form.elements.number.value = code.number;
  form.elements.kind.value = code.kind;
  form.elements.parts_per_second.value = code.parts_per_second;
  form.elements.daily_cap_parts.value = code.daily_cap_parts || "";
  form.elements.opt_out_scope.value = code.opt_out_scope;
  form.elements.tenant_ids.value = code.tenant_ids.join(", ");
  form.elements.number.focus();
}

async function deleteCode(code) {
  if (!window.confirm(`Remove the transport code ${code.number}?`)) return;
  try {
    await api("DELETE", `/v1/operator/transport-codes/${encodeURIComponent(code.number)}`);
    toast(`${code.number} removed.`);
    await loadCodes();
  } catch (error) {
    showError("#codes-error", error);
  }
}

export async function loadCodes() {
  showError("#codes-error", null);
  try {
    const select = $("#code-form").elements.kind;
    if (select.options.length <= 1) {
      for (const kind of await enumValues("CodeKind")) select.append(el("option", { value: kind, text: kind.replace("_", " ") }));
    }
    const codes = pageOf(await api("GET", "/v1/operator/transport-codes")).items;
    $("#codes-table tbody").replaceChildren(...codes.map((code) => el("tr", { "data-number": code.number },
      cell(code.number, "mono strong"), cell(code.kind.replace("_", " ")), cell(code.parts_per_second, "num"),
      cell(code.daily_cap_parts === null ? "none" : code.daily_cap_parts.toLocaleString(), "num"), cell(code.opt_out_scope),
      cell(code.tenant_ids.join(", ")), cell(code.default_for.join(", ")),
      el("td", { class: "nowrap" }, button("Edit", () => editCode(code)), " ", button("Delete", () => deleteCode(code), "link danger")))));
  } catch (error) {
    showError("#codes-error", error);
  }
}

async function putCode(form) {
  const number = form.elements.number.value.trim();
  if (!number) throw new ApiError(400, { detail: "enter the number", field: "number" });
  const body = { opt_out_scope: form.elements.opt_out_scope.value.trim() || "global" };
  if (form.elements.kind.value) body.kind = form.elements.kind.value;
  const pace = form.elements.parts_per_second.value.trim();
  if (pace) body.parts_per_second = /^\d+(\.\d+)?$/.test(pace) ? Number(pace) : pace;
  const cap = form.elements.daily_cap_parts.value.trim();
  if (cap) body.daily_cap_parts = /^\d+$/.test(cap) ? Number(cap) : cap;
  const tenants = form.elements.tenant_ids.value.trim();
  if (tenants) body.tenant_ids = commaList(tenants);
  await api("PUT", `/v1/operator/transport-codes/${encodeURIComponent(number)}`, body);
  form.reset();
  toast(`${number} saved.`);
  await loadCodes();
}

export function wire() {
  onSubmit($("#tenant-create-form"), createTenant);
  onSubmit($("#tenant-change-form"), changeTenant);
  $("#tenant-change-form").elements.sending_numbers.addEventListener("input", (event) => {
    fillDefault(commaList(event.target.value), $("#tenant-change-form").elements.default_sending_number.value);
  });
  onSubmit($("#key-form"), issueKey);
  onSubmit($("#credit-form"), addCredit);
  onSubmit($("#code-form"), putCode);
}
