// The organization: companies, departments (the phone and email signatures show) and phone number
// types (whether a type can receive SMS).
import { api, pageOf } from "./api.js";
import { $, button, cell, clearProblems, el, onSubmit, showError, toast } from "./dom.js";

const context = { companies: [], departments: [] };

async function loadCompanies() {
  context.companies = pageOf(await api("GET", "/v1/companies")).items;
  $("#companies-table tbody").replaceChildren(...context.companies.map((company) => el("tr", { "data-id": company.company_id },
    cell(company.name, "strong"), cell(company.company_id, "mono"))));
  const select = $("#department-form").elements.company_id;
  select.replaceChildren(el("option", { value: "", text: "None" }),
    ...context.companies.map((company) => el("option", { value: company.company_id, text: company.name })));
}

async function loadDepartments() {
  context.departments = pageOf(await api("GET", "/v1/departments")).items;
  const companyName = Object.fromEntries(context.companies.map((company) => [company.company_id, company.name]));
  $("#departments-table tbody").replaceChildren(...context.departments.map((department) => el("tr", { "data-id": department.department_id },
    cell(department.name, "strong"), cell(department.phone_number, "mono"), cell(department.email),
    cell(companyName[department.company_id] || department.company_id || ""),
    el("td", {}, button("Edit", () => editDepartment(department))))));
}

function loadPhoneTypes(settings) {
  const types = Object.entries(settings.phone_number_types).sort(([a], [b]) => a.localeCompare(b));
  $("#phone-types-table tbody").replaceChildren(...types.map(([name, capable]) => el("tr", { "data-name": name },
    cell(name, "strong"), cell(capable ? "SMS-capable" : "not SMS-capable"),
    el("td", {}, button(capable ? "Make not SMS-capable" : "Make SMS-capable", () => setPhoneType(name, !capable))))));
}

function editDepartment(department) {
  const form = $("#department-form");
  clearProblems(form);
  form.dataset.id = department ? department.department_id : "";
  $("#department-form-title").textContent = department ? `Edit ${department.name}` : "New department";
  form.elements.name.value = department ? department.name : "";
  form.elements.phone_number.value = department ? department.phone_number : "";
  form.elements.email.value = department ? department.email : "";
  form.elements.company_id.value = department && department.company_id ? department.company_id : "";
  $("#department-submit").textContent = department ? "Save department" : "Add department";
  form.elements.name.focus();
}

async function saveDepartment(form) {
  const body = {
    name: form.elements.name.value.trim(),
    phone_number: form.elements.phone_number.value.trim(),
    email: form.elements.email.value.trim(),
    company_id: form.elements.company_id.value || null,
  };
  const id = form.dataset.id;
  if (id) await api("PUT", `/v1/departments/${encodeURIComponent(id)}`, body);
  else await api("POST", "/v1/departments", body);
  toast(id ? "Department saved." : "Department added.");
  form.reset();
  form.dataset.id = "";
  $("#department-form-title").textContent = "New department";
  $("#department-submit").textContent = "Add department";
  await loadDepartments();
}

async function addCompany(form) {
  await api("POST", "/v1/companies", { name: form.elements.name.value.trim() });
  form.reset();
  toast("Company added.");
  await loadCompanies();
}

async function setPhoneType(name, smsCapable) {
  try {
    loadPhoneTypes(await api("PUT", `/v1/phone-number-types/${encodeURIComponent(name)}`, { sms_capable: smsCapable }));
  } catch (error) {
    showError("#phone-type-form .error", error);
  }
}

async function addPhoneType(form) {
  const name = form.elements.name.value.trim();
  const settings = await api("PUT", `/v1/phone-number-types/${encodeURIComponent(name)}`, {
    sms_capable: form.elements.sms_capable.checked,
  });
  form.reset();
  toast(`Phone number type ${name} saved.`);
  loadPhoneTypes(settings);
}

export async function load() {
  showError("#organization-error", null);
  try {
    const settings = await api("GET", "/v1/settings");
    loadPhoneTypes(settings);
    await loadCompanies();
    await loadDepartments();
  } catch (error) {
    showError("#organization-error", error);
  }
}

export function wire() {
  onSubmit($("#company-form"), addCompany);
  onSubmit($("#department-form"), saveDepartment);
  onSubmit($("#phone-type-form"), addPhoneType);
  $("#department-new").addEventListener("click", () => editDepartment(null));
}
