// The platform's HTTP API as the console calls it: the signed-in key on every request, problem
// documents (RFC 9457) raised as ApiError, and list answers read the same way whatever their shape.

const KEY_STORAGE = "outboundSms.apiKey";
export const API_ROOT = location.pathname.replace(/\/console\/?$/, "");

export class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem && (problem.detail || problem.message);
    super(detail ? `${detail}${problem.field ? ` (${problem.field})` : ""}` : `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

export function rememberKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

// One request; `key: null` sends none (the public routes).
export async function send(method, path, { body, headers = {}, key = apiKey() } = {}) {
  const request = { method, headers: { ...headers } };
  if (key) request.headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) {
    request.headers["Content-Type"] = "application/json";
    request.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const response = await fetch(API_ROOT + path, request);
  const text = response.status === 204 ? "" : await response.text();
  let payload = null;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    payload = { detail: text };
  }
  return { status: response.status, ok: response.ok, headers: response.headers, payload };
}

export async function api(method, path, body, headers = {}) {
  const answer = await send(method, path, { body, headers });
  if (!answer.ok) throw new ApiError(answer.status, answer.payload);
  return answer.payload;
}

// A list answer: a page `{items, next_cursor}` or (routes without cursors) a plain array.
export function pageOf(payload) {
  if (Array.isArray(payload)) return { items: payload, next: null };
  return { items: payload.items || [], next: payload.next_cursor || null };
}

// A list that pages with the API's cursors: `more()` appends the next page, `reset()` starts over.
export class Pager {
  constructor(path, params, { limit = 50, onPage }) {
    this.path = path;
    this.params = params;
    this.limit = limit;
    this.onPage = onPage;
    this.cursor = null;
  }

  async load(reset) {
    const params = new URLSearchParams(this.params());
    if (this.limit) params.set("limit", String(this.limit));
    if (!reset && this.cursor) params.set("cursor", this.cursor);
    const query = params.toString();
    const payload = await api("GET", query ? `${this.path}?${query}` : this.path);
    const page = pageOf(payload);
    this.cursor = page.next;
    this.onPage(page.items, reset, payload);
    return page;
  }
}

let openapiDocument = null;
export async function openapi() {
  openapiDocument = openapiDocument || (await send("GET", "/v1/openapi.json", { key: null })).payload;
  return openapiDocument;
}

// An enum's values from the OpenAPI document (the API's own vocabulary, never retyped here).
export async function enumValues(schema) {
  const found = (await openapi()).components.schemas[schema];
  return found && found.enum ? found.enum : [];
}
