// Contacts and accounts: find them by account, network site, contact id, name or phone number; edit a contact's numbers
// and each number's SMS opt-in; see why a number would be skipped; edit the account's filter fields.
import { ApiError, api } from "./api.js";
import { $, $$, badge, button, cell, clearProblems, commaList, el, onSubmit, toast } from "./dom.js";

const context = { settings: null, contacts: [] };

// Why a mass message would leave the number out (the preview's reasons), or null when it would go.
export function skipReasons(phone, optOut) {
  const reasons = [];
  if (!phone.sms_capable) reasons.push(`not SMS-capable (${phone.number_type})`);
  if (!phone.sms_opt_in) reasons.push("not opted in");
  if (optOut && optOut.opted_out) reasons.push(`opted out in ${optOut.scope}`);
  return reasons;
}

async function optOutOf(number) {
  try {
    return await api("GET", `/v1/opt-outs/${encodeURIComponent(number)}`);
  } catch {
    return null; // a key without config:manage cannot read the list; the other reasons still show
  }
}

async function numberLine(phone) {
  const reasons = skipReasons(phone, await optOutOf(phone.number));
  return el("li", { "data-number": phone.number },
    el("span", { class: "mono", text: phone.number }), " ",
    el("span", { class: "hint", text: phone.number_type }), " ",
    reasons.length ? badge(`skipped: ${reasons.join(", ")}`, "failed") : badge("will receive SMS", "delivered"));
}

async function showContacts(contacts) {
  context.contacts = contacts;
  const rows = await Promise.all(contacts.map(async (contact) => el("tr", { "data-id": contact.id },
    el("td", {}, el("div", { class: "strong", text: contact.name }), el("div", { class: "hint mono", text: contact.id })),
    cell(contact.contact_type),
    el("td", {}, el("div", { text: contact.related_entity_name }),
      el("div", { class: "hint", text: `${contact.related_entity_type.replace("_", " ")} ${contact.related_entity_id}` })),
    el("td", {}, el("ul", { class: "plain" }, await Promise.all(contact.phones.map(numberLine)))),
    el("td", {}, button("Edit", () => editContact(contact))))));
  $("#contacts-table tbody").replaceChildren(...rows);
  $("#contacts-empty").hidden = contacts.length > 0;
}

async function find(form) {
  const contactId = form.elements.contact_id.value.trim();
  const entityId = form.elements.entity_id.value.trim();
  const entityType = form.elements.entity_type.value;
  $("#account-form").hidden = true;
  if (contactId) {
    await showContacts([await api("GET", `/v1/contacts/${encodeURIComponent(contactId)}`)]);
    return;
  }
  const name = form.elements.name.value.trim();
  const number = form.elements.phone_number.value.trim();
  // One way to find at a time, as the API takes it: a name, else a number, else the entity.
  const query = new URLSearchParams(name ? { name } : number ? { phone_number: number } : { entity_id: entityId, entity_type: entityType });
  const contacts = await api("GET", `/v1/contacts?${query}`);
  await showContacts(Array.isArray(contacts) ? contacts : contacts.items);
  if (!name && !number && entityType === "account" && entityId) await showAccount(entityId);
}

// ---- the contact editor ----

function phoneTypes() {
  return Object.keys(context.settings.phone_number_types).sort();
}

function phoneRow(index, phone = { number: "", number_type: "Mobile", sms_opt_in: false }) {
  const prefix = `phones.${index}`;
  return el("div", { class: "row phone-row", "data-index": String(index) },
    el("label", {}, "Number", el("input", { name: `${prefix}.number`, type: "tel", value: phone.number, required: true })),
    el("label", {}, "Type", el("select", { name: `${prefix}.number_type` },
      phoneTypes().map((type) => el("option", { value: type, text: type, selected: type === phone.number_type })))),
    el("label", { class: "check" }, el("input", { name: `${prefix}.sms_opt_in`, type: "checkbox", checked: phone.sms_opt_in }), "SMS Opt In"),
    button("Remove", (event) => { event.target.closest(".phone-row").remove(); }, "link danger"));
}

export function editContact(contact) {
  const form = $("#contact-form");
  clearProblems(form);
  form.hidden = false;
  form.dataset.id = contact ? contact.id : "";
  $("#contact-form-title").textContent = contact ? `Edit ${contact.name}` : "New contact";
  const finder = $("#contact-find");
  const blank = {
    name: "", contact_type: "", related_entity_type: finder.elements.entity_type.value,
    related_entity_id: finder.elements.entity_id.value.trim(), related_entity_name: "", phones: [],
  };
  const shown = contact || blank;
  for (const name of ["name", "contact_type", "related_entity_type", "related_entity_id", "related_entity_name"]) {
    form.elements[name].value = shown[name];
  }
  $("#contact-phones").replaceChildren(...shown.phones.map((phone, index) => phoneRow(index, phone)));
  form.elements.name.focus();
}

function contactBody(form) {
  const phones = $$(".phone-row", form).map((row) => {
    const prefix = `phones.${row.dataset.index}`;
    return {
      number: form.elements[`${prefix}.number`].value.trim(),
      number_type: form.elements[`${prefix}.number_type`].value,
      sms_opt_in: form.elements[`${prefix}.sms_opt_in`].checked,
    };
  });
  const body = { phones };
  for (const name of ["name", "contact_type", "related_entity_type", "related_entity_id", "related_entity_name"]) {
    body[name] = form.elements[name].value.trim();
  }
  return body;
}

async function saveContact(form) {
  // Renumber the rows so a problem's "phones.N" names the row the body sent as N.
  $$(".phone-row", form).forEach((row, index) => {
    const old = row.dataset.index;
    row.dataset.index = String(index);
    for (const input of $$("[name]", row)) input.name = input.name.replace(`phones.${old}.`, `phones.${index}.`);
  });
  const id = form.dataset.id;
  const saved = id
    ? await api("PUT", `/v1/contacts/${encodeURIComponent(id)}`, contactBody(form))
    : await api("POST", "/v1/contacts", contactBody(form));
  form.hidden = true;
  toast(`Saved ${saved.name}.`);
  const others = context.contacts.filter((contact) => contact.id !== saved.id);
  await showContacts([saved, ...others]);
}

// ---- the account ----

async function showAccount(accountId) {
  const form = $("#account-form");
  clearProblems(form);
  form.hidden = false;
  form.dataset.id = accountId;
  $("#account-title").textContent = `Account ${accountId}`;
  let account = { name: "", status: "Active", network_site_id: "", groups: [] };
  try {
    account = await api("GET", `/v1/accounts/${encodeURIComponent(accountId)}`);
    $("#account-note").textContent = "";
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    $("#account-note").textContent = "No account record yet: saving creates it.";
  }
  form.elements.name.value = account.name;
  form.elements.status.value = account.status;
  form.elements.network_site_id.value = account.network_site_id || "";
  form.elements.groups.value = account.groups.join(", ");
}

async function saveAccount(form) {
  const body = {
    name: form.elements.name.value.trim(),
    status: form.elements.status.value.trim(),
    network_site_id: form.elements.network_site_id.value.trim() || null,
    groups: commaList(form.elements.groups.value),
  };
  await api("PUT", `/v1/accounts/${encodeURIComponent(form.dataset.id)}`, body);
  $("#account-note").textContent = "";
  toast("Account saved.");
}

export async function load(settings) {
  context.settings = settings;
}

export function wire() {
  onSubmit($("#contact-find"), find);
  $("#contact-new").addEventListener("click", () => editContact(null));
  $("#contact-add-phone").addEventListener("click", () => {
    const rows = $$(".phone-row", $("#contact-form"));
    const next = rows.length ? Math.max(...rows.map((row) => Number(row.dataset.index))) + 1 : 0;
    $("#contact-phones").append(phoneRow(next));
  });
  $("#contact-cancel").addEventListener("click", () => { $("#contact-form").hidden = true; });
  onSubmit($("#contact-form"), saveContact);
  onSubmit($("#account-form"), saveAccount);
}
