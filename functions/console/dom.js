// The DOM, built with text nodes only (every value shown comes from data), and the problem
// documents of the API shown beside the field they name.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

export function showError(selector, error) {
  $(selector).textContent = error ? error.message : "";
}

export function toast(text) {
  const box = $("#toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

export function badge(text, kind = text) {
  return el("span", { class: `badge status-${String(kind).toLowerCase().replace(/[\s_]+/g, "-")}`, text });
}

export const statusBadge = (status) => badge(status);

export function commaList(value) {
  return value.split(",").map((item) => item.trim()).filter(Boolean);
}

export function cell(text, className) {
  return el("td", { class: className, text: text === null || text === undefined ? "" : String(text) });
}

export function button(text, onclick, className = "link") {
  return el("button", { type: "button", class: className, text, onclick });
}

// ---- problems beside their fields ----

let noteCount = 0;

export function clearProblems(form) {
  for (const note of $$(".field-error", form)) note.remove();
  for (const input of $$("[aria-invalid]", form)) {
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
  }
  const summary = $(".error", form);
  if (summary) summary.textContent = "";
}

// The form's control a problem's field names: "body.phones.0.number" is the input named
// "phones.0.number", else the nearest named parent ("phones"); null when the form has none.
export function controlFor(form, field) {
  let path = String(field || "").replace(/^(body|query|path)\./, "");
  while (path) {
    const found = $$("[name], [data-field]", form).find(
      (node) => node.getAttribute("data-field") === path || node.getAttribute("name") === path,
    );
    if (found) return found;
    path = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "";
  }
  return null;
}

// Show an error in its form: each field the problem document names gets its message beside it
// (and is marked invalid for assistive technology); the summary says what the API said.
export function formProblem(form, error) {
  clearProblems(form);
  const problem = (error && error.problem) || {};
  const listed = Array.isArray(problem.errors) && problem.errors.length
    ? problem.errors
    : [{ field: problem.field, message: problem.detail }];
  let first = null;
  for (const { field, message } of listed) {
    const control = field ? controlFor(form, field) : null;
    if (!control || !message) continue;
    const note = el("span", { class: "field-error", id: `field-error-${++noteCount}`, text: message });
    (control.closest("label") || control).after(note);
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", note.id);
    first = first || control;
  }
  const summary = $(".error", form);
  if (summary) summary.textContent = error ? error.message : "";
  if (first && typeof first.focus === "function") first.focus();
}

// Run a form's submission: its problems cleared first, an ApiError shown beside its field.
export function onSubmit(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblems(form);
    const submit = $("button[type=submit]", form);
    if (submit) submit.disabled = true;
    try {
      await action(form, event);
    } catch (error) {
      formProblem(form, error);
    } finally {
      if (submit) submit.disabled = false;
    }
  });
}

// A "Load more" button under a table, shown while the pager has a cursor.
export function pagerButton(selector, pager, onError) {
  const more = $(selector);
  more.addEventListener("click", async () => {
    try {
      await pager.load(false);
    } catch (error) {
      onError(error);
    }
    more.hidden = !pager.cursor;
  });
  return {
    // From the first page; `rethrow` lets a form show the problem beside its field.
    async reset(rethrow = false) {
      try {
        await pager.load(true);
      } catch (error) {
        pager.cursor = null;
        if (rethrow) throw error;
        onError(error);
      } finally {
        more.hidden = !pager.cursor;
      }
    },
  };
}
