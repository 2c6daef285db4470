// Tenant templates (written here, reviewed by the operator) and calling lists: a CSV merged into an
// approved template, its refused rows, the preview to confirm, the job's progress and cancel.
import { api, enumValues, pageOf } from "./api.js";
import { $, $$, badge, button, cell, clearProblems, el, onSubmit, toast } from "./dom.js";
import { openConfirm, watchJob } from "./jobs.js";
import { formatInstant, formatMicros } from "./money.js";

const VARIABLE = /\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}/gi;
const context = { templates: [], variableTypes: [], settings: null };

// The fields of a CSV's header row (quoted fields and doubled quotes as RFC 4180 writes them).
export function csvHeader(text) {
  const line = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') { field += '"'; i += 1; } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ",") { line.push(field.trim()); field = ""; } else if (char === "\n" || char === "\r") break;
    else field += char;
  }
  line.push(field.trim());
  return line.filter(Boolean);
}

// ---- templates ----

function templateVariables(text) {
  return [...new Set([...text.matchAll(VARIABLE)].map((match) => match[1]))];
}

function renderVariableTypes() {
  const form = $("#template-form");
  const chosen = Object.fromEntries($$("select[name^='variables.']", form).map((s) => [s.name.slice(10), s.value]));
  const names = templateVariables(form.elements.text.value);
  $("#template-variables").replaceChildren(el("legend", { text: "Variable types" }),
    ...names.map((name) => el("label", {}, name, el("select", { name: `variables.${name}` },
      context.variableTypes.map((type) => el("option", { value: type, text: type, selected: type === (chosen[name] || "text") }))))));
  $("#template-variables").hidden = names.length === 0;
}

async function loadTemplates() {
  context.templates = pageOf(await api("GET", "/v1/templates")).items;
  $("#templates-table tbody").replaceChildren(...context.templates.map((template) => el("tr", { "data-id": template.id },
    el("td", {}, el("div", { class: "strong", text: template.name }), el("div", { class: "hint mono", text: template.id })),
    el("td", { dir: template.direction }, template.text),
    cell(Object.entries(template.variables).map(([name, type]) => `${name}: ${type}`).join(", ")),
    el("td", {}, badge(template.status, `template-${template.status}`),
      template.review_note ? el("div", { class: "hint", text: template.review_note }) : null))));
  const approved = context.templates.filter((template) => template.status === "approved");
  const select = $("#list-form").elements.template_id;
  const previous = select.value;
  select.replaceChildren(...approved.map((template) => el("option", { value: template.id, text: template.name, selected: template.id === previous })));
  renderMapping();
}

async function submitTemplate(form) {
  const variables = Object.fromEntries($$("select[name^='variables.']", form).map((s) => [s.name.slice(10), s.value]));
  const template = await api("POST", "/v1/templates", {
    name: form.elements.name.value.trim(),
    text: form.elements.text.value,
    variables,
    direction: form.elements.direction.value,
  });
  form.reset();
  renderVariableTypes();
  toast(`Template submitted: ${template.status} until the operator reviews it.`);
  await loadTemplates();
}

// ---- calling lists ----

function columnOptions(columns, selected, blank) {
  const options = columns.map((column) => el("option", { value: column, text: column, selected: column === selected }));
  return blank ? [el("option", { value: "", text: blank }), ...options] : options;
}

function guess(columns, ...names) {
  return columns.find((column) => names.includes(column.toLowerCase())) || "";
}

function renderMapping() {
  const form = $("#list-form");
  const columns = csvHeader(form.elements.csv.value);
  const template = context.templates.find((entry) => entry.id === form.elements.template_id.value);
  const phone = form.elements.phone_field.value || guess(columns, "phone", "phone_number", "number", "mobile");
  const name = form.elements.name_field.value || guess(columns, "name", "full_name");
  form.elements.phone_field.replaceChildren(...columnOptions(columns, phone, columns.length ? null : "Paste the CSV first"));
  form.elements.name_field.replaceChildren(...columnOptions(columns, name, "None"));
  const previous = Object.fromEntries($$("select[name^='mapping.']", form).map((s) => [s.name.slice(8), s.value]));
  const variables = template ? Object.keys(template.variables) : [];
  $("#list-mapping").replaceChildren(el("legend", { text: "Template variables from columns" }),
    ...variables.map((variable) => el("label", {}, `{{${variable}}}`, el("select", { name: `mapping.${variable}` },
      columnOptions(columns, previous[variable] || guess(columns, variable), "Choose a column")))));
  $("#list-template-text").textContent = template ? template.text : "No approved template yet.";
}

async function readFile(event) {
  const [file] = event.target.files;
  if (!file) return;
  $("#list-form").elements.csv.value = await file.text();
  renderMapping();
}

function listRequest(form) {
  const mapping = Object.fromEntries($$("select[name^='mapping.']", form).map((s) => [s.name.slice(8), s.value]));
  const request = {
    name: form.elements.name.value.trim(),
    template_id: form.elements.template_id.value,
    phone_field: form.elements.phone_field.value,
    mapping,
    csv: form.elements.csv.value,
  };
  if (form.elements.name_field.value) request.name_field = form.elements.name_field.value;
  if (form.elements.signature_id.value) request.signature_id = form.elements.signature_id.value;
  if (form.elements.sending_number.value) request.sending_number = form.elements.sending_number.value;
  return request;
}

function showRefused(errors) {
  $("#list-errors-block").hidden = errors.length === 0;
  $("#list-errors-count").textContent = errors.length === 1 ? "1 row was refused" : `${errors.length} rows were refused`;
  $("#list-errors tbody").replaceChildren(...errors.map((error) => el("tr", {},
    cell(error.row, "num"), cell(error.field, "mono"), cell(error.error))));
}

function follow(jobId) {
  watchJob("calling-lists", jobId, $("#list-progress"), () => loadLists());
}

async function uploadList(form) {
  const job = await api("POST", "/v1/calling-lists", listRequest(form));
  showRefused(job.errors);
  openConfirm("calling-lists", job, (jobId, confirmed) => {
    if (confirmed) follow(jobId);
    else loadLists();
  });
}

async function loadLists() {
  const templateName = Object.fromEntries(context.templates.map((template) => [template.id, template.name]));
  const jobs = pageOf(await api("GET", "/v1/mass-messages")).items.filter((job) => job.saved_message in templateName);
  $("#lists-table tbody").replaceChildren(...jobs.map((job) => el("tr", { "data-id": job.id },
    cell(formatInstant(job.created_at), "nowrap"), cell(templateName[job.saved_message]), cell(job.status),
    cell(job.preview ? job.preview.recipients.toLocaleString() : "–", "num"),
    cell(job.preview ? formatMicros(job.preview.total_micros) : "–", "num"),
    el("td", {}, job.status === "previewed"
      ? button("Preview", async () => openConfirm("calling-lists", await api("POST", `/v1/calling-lists/${job.id}/preview`),
        (jobId, confirmed) => (confirmed ? follow(jobId) : loadLists())))
      : button("Progress", () => follow(job.id))))));
}

async function fillChoices(settings) {
  const form = $("#list-form");
  form.elements.sending_number.replaceChildren(...settings.sending_numbers.map((number) => el("option", {
    value: number, text: number, selected: number === settings.default_sending_number,
  })));
  const signatures = pageOf(await api("GET", "/v1/signatures")).items;
  form.elements.signature_id.replaceChildren(el("option", { value: "", text: "The tenant's default" }),
    ...signatures.map((signature) => el("option", { value: signature.id, text: signature.name })));
}

export async function load(settings) {
  context.settings = settings;
  if (!context.variableTypes.length) context.variableTypes = await enumValues("VariableType");
  clearProblems($("#list-form"));
  await loadTemplates();
  await fillChoices(settings);
  renderVariableTypes();
  await loadLists();
}

export function wire() {
  onSubmit($("#template-form"), submitTemplate);
  $("#template-form").elements.text.addEventListener("input", renderVariableTypes);
  onSubmit($("#list-form"), uploadList);
  $("#list-form").elements.csv.addEventListener("input", renderMapping);
  $("#list-form").elements.template_id.addEventListener("change", renderMapping);
  $("#list-file").addEventListener("change", readFile);
}
