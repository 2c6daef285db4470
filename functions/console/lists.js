// Tenant templates (written here, reviewed by the operator) and calling lists: a CSV merged into an
// approved template, pasted (sent inline) or a file (PUT to its pre-signed URL, the upload's
// progress shown); its validation (refused rows by reason, page by page, and a link to errors.csv), the
// preview's progress, the preview to confirm, the job's progress and cancel.
import { ApiError, Pager, api, enumValues, pageOf } from "./api.js";
import { $, $$, badge, button, cell, clearProblems, el, onSubmit, pagerButton, showError, toast } from "./dom.js";
import { inZone, openConfirm, settled, showWaiting, watchJob } from "./jobs.js";
import { formatInstant, formatMicros } from "./money.js";

const VARIABLE = /\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}/gi;
const HEADER_BYTES = 64 * 1024; // a file's header row is read from its start only
const REASONS = {
  invalid_phone_number: "invalid phone number", missing_field: "missing field", invalid_value: "invalid value",
  malformed_row: "malformed row", message_too_long: "message too long",
};
const REJECTED = {
  too_large: "the file is over 200 MB", too_many_records: "the file has over 1,000,000 records",
  not_utf8_csv: "the file is not UTF-8 CSV", missing_columns: "the file lacks a column the list names",
  duplicate_columns: "the header names a column twice", no_valid_records: "no record can be sent",
};
const context = { templates: [], variableTypes: [], settings: null, file: null, header: [], jobId: null };

const refusedRows = new Pager("/v1/calling-lists", () => ({}), {
  limit: 100,
  onPage(items, reset) {
    const body = $("#list-errors tbody");
    if (reset) body.replaceChildren();
    body.append(...items.map((error) => el("tr", { "data-row": String(error.row) },
      cell(error.row, "num"), cell(error.field, "mono"), cell(REASONS[error.reason] || error.reason), cell(error.error))));
  },
});
let refusedList;

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
  const columns = context.file ? context.header : csvHeader(form.elements.csv.value);
  const template = context.templates.find((entry) => entry.id === form.elements.template_id.value);
  const phone = form.elements.phone_field.value || guess(columns, "phone", "phone_number", "number", "mobile");
  const name = form.elements.name_field.value || guess(columns, "name", "full_name");
  form.elements.phone_field.replaceChildren(...columnOptions(columns, phone, columns.length ? null : "Paste the CSV or choose a file first"));
  form.elements.name_field.replaceChildren(...columnOptions(columns, name, "None"));
  const previous = Object.fromEntries($$("select[name^='mapping.']", form).map((s) => [s.name.slice(8), s.value]));
  const variables = template ? Object.keys(template.variables) : [];
  $("#list-mapping").replaceChildren(el("legend", { text: "Template variables from columns" }),
    ...variables.map((variable) => el("label", {}, `{{${variable}}}`, el("select", { name: `mapping.${variable}` },
      columnOptions(columns, previous[variable] || guess(columns, variable), "Choose a column")))));
  $("#list-template-text").textContent = template ? template.text : "No approved template yet.";
}

function sizeText(bytes) {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024)).toLocaleString()} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

// A chosen file is uploaded as it is; only its header row is read here, for the column choices.
async function chooseFile(event) {
  const [file] = event.target.files;
  const form = $("#list-form");
  context.file = file || null;
  context.header = file ? csvHeader((await file.slice(0, HEADER_BYTES).text()).replace(/^\uFEFF/, "")) : [];
  form.elements.csv.disabled = Boolean(file);
  if (file) form.elements.csv.value = "";
  $("#list-file-note").hidden = !file;
  $("#list-file-name").textContent = file ? `${file.name} (${sizeText(file.size)}) is uploaded as a file.` : "";
  renderMapping();
}

function clearFile() {
  const input = $("#list-file");
  input.value = "";
  input.dispatchEvent(new Event("change"));
}

function listRequest(form) {
  const mapping = Object.fromEntries($$("select[name^='mapping.']", form).map((s) => [s.name.slice(8), s.value]));
  const request = {
    name: form.elements.name.value.trim(),
    template_id: form.elements.template_id.value,
    phone_field: form.elements.phone_field.value,
    mapping,
  };
  if (context.file) request.upload = true;
  else request.csv = form.elements.csv.value;
  if (form.elements.name_field.value) request.name_field = form.elements.name_field.value;
  if (form.elements.signature_id.value) request.signature_id = form.elements.signature_id.value;
  if (form.elements.sending_number.value) request.sending_number = form.elements.sending_number.value;
  return request;
}

// ---- the file's upload, its validation and its refused rows ----

// PUT the file to its pre-signed URL with XMLHttpRequest, whose upload events give the progress.
function putFile(file, upload, panel) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(upload.method || "PUT", upload.url);
    for (const [name, value] of Object.entries(upload.headers || {})) request.setRequestHeader(name, value);
    const fill = panel.querySelector(".progress-fill");
    const text = panel.querySelector(".wait-text");
    request.upload.addEventListener("progress", (event) => {
      const total = event.lengthComputable ? event.total : file.size;
      const share = total ? Math.round((100 * event.loaded) / total) : 0;
      fill.style.width = `${share}%`;
      text.textContent = `Uploading ${file.name}: ${share}% (${sizeText(event.loaded)} of ${sizeText(total)})`;
    });
    request.addEventListener("load", () => {
      if (request.status >= 200 && request.status < 300) resolve();
      else reject(new ApiError(request.status, { detail: `the upload was refused (HTTP ${request.status})`, field: "upload" }));
    });
    request.addEventListener("error", () => reject(new ApiError(0, { detail: "the upload did not reach the bucket", field: "upload" })));
    request.send(file);
  });
}

async function showValidation(job) {
  const validation = job.validation;
  const block = $("#list-validation");
  block.hidden = !validation;
  $("#list-errors-block").hidden = true;
  if (!validation) return;
  const refused = Object.values(validation.refused).reduce((sum, count) => sum + count, 0);
  $("#list-validation-title").textContent = job.status === "rejected"
    ? `${job.name}: refused as a whole` : `${job.name}: ${validation.records.toLocaleString()} records read`;
  const summary = [`${validation.accepted.toLocaleString()} accepted`, `${refused.toLocaleString()} refused`];
  if (validation.rejected_reason) summary.push(`not sent: ${REJECTED[validation.rejected_reason] || validation.rejected_reason}`);
  $("#list-validation-summary").textContent = `${summary.join(", ")}.`;
  $("#list-refused-reasons").replaceChildren(...Object.entries(validation.refused).map(([reason, count]) => el("li", { "data-reason": reason },
    el("span", { class: "hint", text: REASONS[reason] || reason }), " ", el("span", { class: "strong", text: count.toLocaleString() }))));
  if (refused > 0) await showRefused(job.id, refused);
}

async function showRefused(jobId, total) {
  context.jobId = jobId;
  $("#list-errors-block").hidden = false;
  $("#list-errors-count").textContent = total === 1 ? "1 row was refused" : `${total.toLocaleString()} rows were refused`;
  showError("#list-errors-error", null);
  refusedRows.path = `/v1/calling-lists/${encodeURIComponent(jobId)}/errors`;
  $("#list-errors-csv").hidden = true;
  await refusedList.reset();
  try {
    await linkRefused(jobId);
  } catch (error) {
    showError("#list-errors-error", error);
  }
}

// errors.csv: a link to its pre-signed download (a plain link cannot send the key, and a redirect
// to another origin would reach it without this page's origin); asked again once it is near expiry.
const LINK_MARGIN_MS = 60 * 1000;

async function linkRefused(jobId) {
  const link = $("#list-errors-csv");
  const answer = await api("GET", `/v1/calling-lists/${encodeURIComponent(jobId)}/errors.csv?link=true`);
  link.href = answer.url;
  link.dataset.expiresAt = answer.expires_at;
  link.textContent = `Download every refused row (${jobId}-errors.csv)`;
  link.hidden = false;
}

async function followRefusedLink(event) {
  const link = event.currentTarget;
  if (Date.parse(link.dataset.expiresAt) - Date.now() > LINK_MARGIN_MS) return;
  event.preventDefault();
  try {
    await linkRefused(context.jobId);
    window.location.assign(link.href);
  } catch (error) {
    showError("#list-errors-error", error);
  }
}

function follow(jobId) {
  watchJob("calling-lists", jobId, $("#list-progress"), () => loadLists());
}

function confirmed(jobId, sent) {
  if (sent) follow(jobId);
  else loadLists();
}

async function uploadList(form) {
  $("#list-validation").hidden = true;
  $("#list-errors-block").hidden = true;
  const file = context.file;
  let job = await api("POST", "/v1/calling-lists", listRequest(form));
  const panel = $("#list-wait");
  if (file) {
    showWaiting(panel, job);
    await putFile(file, job.upload, panel);
    clearFile();
    job = await api("GET", `/v1/calling-lists/${job.id}`);
  }
  job = await settled("calling-lists", job, panel);
  await showValidation(job);
  await openConfirm("calling-lists", job, confirmed, panel);
  await loadLists();
}

async function loadLists() {
  const templateName = Object.fromEntries(context.templates.map((template) => [template.id, template.name]));
  const jobs = pageOf(await api("GET", "/v1/mass-messages")).items.filter((job) => job.saved_message in templateName);
  $("#lists-table tbody").replaceChildren(...jobs.map((job) => el("tr", { "data-id": job.id },
    cell(formatInstant(job.created_at), "nowrap"), cell(templateName[job.saved_message]),
    el("td", {}, el("div", { text: job.status }),
      job.status === "scheduled" ? el("div", { class: "hint", text: inZone(job.send_at) }) : null),
    cell(job.preview ? job.preview.recipients.toLocaleString() : "–", "num"),
    cell(job.preview ? formatMicros(job.preview.total_micros) : "–", "num"),
    el("td", {}, job.status === "previewed"
      ? button("Preview", async () => openConfirm("calling-lists", await api("POST", `/v1/calling-lists/${job.id}/preview`),
        confirmed, $("#list-wait")))
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
  $("#list-file").addEventListener("change", chooseFile);
  $("#list-file-clear").addEventListener("click", clearFile);
  refusedList = pagerButton("#list-errors-more", refusedRows, (error) => showError("#list-errors-error", error));
  $("#list-errors-csv").addEventListener("click", followRefusedLink);
}
