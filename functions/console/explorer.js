// The API explorer: every operation of the OpenAPI document this API serves, its parameters and an
// example body built from its schema, sent from here with the bearer key. Nothing is loaded from
// elsewhere: the document comes from /v1/openapi.json, the calls go to this API.
import { apiKey, openapi, send } from "./api.js";
import { $, el } from "./dom.js";

const METHODS = ["get", "post", "put", "patch", "delete"];
const PUBLIC = new Set(["GET /v1/openapi.json", "POST /v1/inbound/{carrier}"]);

function resolve(document, schema) {
  let found = schema || {};
  for (let depth = 0; found.$ref && depth < 20; depth += 1) {
    found = found.$ref.replace(/^#\//, "").split("/").reduce((node, part) => node[part], document);
  }
  return found;
}

// A body that shows the shape: defaults where the schema has them, an enum's first value, else blanks.
export function example(document, schema, depth = 0) {
  const found = resolve(document, schema);
  if (found.default !== undefined) return found.default;
  if (found.enum) return found.enum[0];
  const choices = found.anyOf || found.oneOf;
  if (choices) {
    const chosen = choices.find((choice) => resolve(document, choice).type !== "null") || choices[0];
    return example(document, chosen, depth);
  }
  if (depth > 4) return null;
  switch (found.type) {
    case "object": {
      const value = {};
      for (const [name, property] of Object.entries(found.properties || {})) {
        value[name] = example(document, property, depth + 1);
      }
      return value;
    }
    case "array": return found.items ? [example(document, found.items, depth + 1)] : [];
    case "integer": case "number": return found.minimum || found.exclusiveMinimum ? 1 : 0;
    case "boolean": return false;
    case "string": return found.format === "date-time" ? new Date().toISOString() : "";
    default: return null;
  }
}

function groupOf(path) {
  const parts = path.split("/").filter(Boolean);
  return parts[1] === "operator" ? `operator ${parts[2] || ""}`.trim() : parts[1] || parts[0];
}

function operationCard(document, method, path, operation) {
  const publicRoute = PUBLIC.has(`${method.toUpperCase()} ${path}`);
  const parameters = (operation.parameters || []).map((parameter) => ({ ...parameter, schema: resolve(document, parameter.schema) }));
  const form = el("form", { class: "try", "data-method": method.toUpperCase(), "data-path": path });
  const inputs = parameters.map((parameter) => el("label", {},
    `${parameter.name} (${parameter.in}${parameter.required ? ", required" : ""})`,
    el("input", { name: `${parameter.in}.${parameter.name}`, required: parameter.required && parameter.in === "path",
      placeholder: parameter.schema.default !== undefined ? String(parameter.schema.default) : (parameter.schema.enum || []).join(" | ") }),
    parameter.description ? el("span", { class: "hint", text: parameter.description }) : null));
  const content = operation.requestBody && operation.requestBody.content && operation.requestBody.content["application/json"];
  const body = content
    ? el("label", {}, "Request body (JSON)", el("textarea", { name: "body", rows: "8", class: "mono", spellcheck: "false" }))
    : null;
  if (body) body.querySelector("textarea").value = JSON.stringify(example(document, content.schema), null, 2);
  const status = el("p", { class: "try-status strong", "aria-live": "polite" });
  const answer = el("pre", { class: "body mono try-answer", hidden: true });
  form.append(...inputs, body || "", el("div", { class: "actions" }, el("button", { type: "submit", text: "Send" }),
    el("span", { class: "hint", text: publicRoute ? "No key needed" : "Sent with the key above" })), status, answer);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let target = path;
    const query = new URLSearchParams();
    for (const parameter of parameters) {
      const value = form.elements[`${parameter.in}.${parameter.name}`].value.trim();
      if (parameter.in === "path") target = target.replace(`{${parameter.name}}`, encodeURIComponent(value));
      else if (parameter.in === "query" && value) query.set(parameter.name, value);
    }
    if (query.toString()) target += `?${query}`;
    status.textContent = "Sending...";
    const options = { key: publicRoute ? null : $("#explorer-key").value.trim() };
    if (body) options.body = form.elements.body.value;
    try {
      const started = performance.now();
      const result = await send(method.toUpperCase(), target, options);
      const took = Math.round(performance.now() - started);
      status.textContent = `${result.status} ${result.headers.get("Content-Type") || ""} (${took} ms)`;
      status.className = `try-status strong ${result.ok ? "ok" : "error"}`;
      answer.textContent = result.payload === null ? "(no body)" : JSON.stringify(result.payload, null, 2);
    } catch (error) {
      status.textContent = error.message;
      status.className = "try-status strong error";
      answer.textContent = "";
    }
    answer.hidden = false;
  });
  return el("details", { class: "operation", "data-operation": `${method.toUpperCase()} ${path}` },
    el("summary", {}, el("span", { class: `method method-${method}`, text: method.toUpperCase() }), " ",
      el("span", { class: "mono", text: path }), " ", el("span", { class: "hint", text: operation.summary || "" })),
    operation.description ? el("p", { class: "hint", text: operation.description }) : null,
    form);
}

let rendered = false;

export async function load() {
  $("#explorer-key").value = $("#explorer-key").value || apiKey();
  if (rendered) return;
  const document = await openapi();
  $("#explorer-title").textContent = `${document.info.title} ${document.info.version} (OpenAPI ${document.openapi})`;
  const groups = new Map();
  for (const [path, item] of Object.entries(document.paths).sort(([a], [b]) => a.localeCompare(b))) {
    for (const method of METHODS) {
      if (!item[method]) continue;
      const group = groupOf(path);
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group).push(operationCard(document, method, path, item[method]));
    }
  }
  $("#explorer-operations").replaceChildren(...[...groups].map(([group, cards]) => el("section", { class: "op-group" },
    el("h2", { text: group }), cards)));
  rendered = true;
}

function filter(event) {
  const words = event.target.value.trim().toLowerCase();
  for (const card of document.querySelectorAll("#explorer-operations .operation")) {
    card.hidden = Boolean(words) && !card.textContent.toLowerCase().includes(words);
  }
}

export function wire() {
  $("#explorer-filter").addEventListener("input", filter);
  $("#explorer-settings").addEventListener("submit", (event) => event.preventDefault());
}
