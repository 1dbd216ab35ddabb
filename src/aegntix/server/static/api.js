// The REST client: bearer key, JSON in and out, problem+json errors as ApiError.

const KEY_STORAGE = "aegntix.apiKey";

export function getKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

export function setKey(key) {
  try {
    localStorage.setItem(KEY_STORAGE, key);
  } catch {
    /* private mode: the key lives for this page only */
  }
  memoryKey = key;
}

export function clearKey() {
  try {
    localStorage.removeItem(KEY_STORAGE);
  } catch {
    /* ignore */
  }
  memoryKey = "";
}

let memoryKey = "";
function currentKey() {
  return getKey() || memoryKey;
}

/** An error answer from the API (RFC 9457 problem details). */
export class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem?.detail || problem?.title || `request failed (${status})`;
    super(detail);
    this.status = status;
    this.title = problem?.title || "";
    this.detail = detail;
    this.errors = Array.isArray(problem?.errors) ? problem.errors : [];
  }
}

async function request(path, { method = "GET", json, body, headers = {} } = {}) {
  const h = { Accept: "application/json, application/problem+json", ...headers };
  const key = currentKey();
  if (key) h.Authorization = `Bearer ${key}`;
  let payload = body;
  if (json !== undefined) {
    h["Content-Type"] = "application/json";
    payload = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(path, { method, headers: h, body: payload });
  } catch (err) {
    throw new ApiError(0, { title: "Network error", detail: "The server cannot be reached. Is `aegntix serve` running?" });
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text.slice(0, 300) };
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401) window.dispatchEvent(new CustomEvent("aegntix:unauthorized", { detail: err }));
    if (res.status === 403 && method !== "GET") noteRefusal(method, data);
    throw err;
  }
  return data;
}

export const api = {
  meta: () => request("/v1/meta"),
  examples: () => request("/v1/examples"),
  startExample: (name) => request(`/v1/examples/${encodeURIComponent(name)}`, { method: "POST" }),
  uploadScenario: (file) => {
    const form = new FormData();
    form.append("file", file, file.name);
    return request("/v1/scenarios", { method: "POST", body: form });
  },
  scenarios: () => request("/v1/scenarios"),
  scenario: (id) => request(`/v1/scenarios/${encodeURIComponent(id)}`),
  topology: (id) => request(`/v1/scenarios/${encodeURIComponent(id)}/topology`),
  tools: (id) => request(`/v1/scenarios/${encodeURIComponent(id)}/tools`),
  checkTools: (id) => request(`/v1/scenarios/${encodeURIComponent(id)}/tools/check`, { method: "POST" }),
  tree: (scenarioId) => request(`/v1/branches/tree?scenario_id=${encodeURIComponent(scenarioId)}`),
  branch: (id) => request(`/v1/branches/${encodeURIComponent(id)}`),
  metrics: (id) => request(`/v1/branches/${encodeURIComponent(id)}/metrics`),
  hearings: (id, step) => request(`/v1/branches/${encodeURIComponent(id)}/hearings${step === undefined || step === null ? "" : `?step=${step}`}`),
  run: (id, steps) => request(`/v1/branches/${encodeURIComponent(id)}/run`, { method: "POST", json: steps ? { steps } : {} }),
  pause: (id) => request(`/v1/branches/${encodeURIComponent(id)}/pause`, { method: "POST" }),
  resume: (id) => request(`/v1/branches/${encodeURIComponent(id)}/resume`, { method: "POST" }),
  step: (id) => request(`/v1/branches/${encodeURIComponent(id)}/step`, { method: "POST" }),
  fork: (id, body) => request(`/v1/branches/${encodeURIComponent(id)}/fork`, { method: "POST", json: body }),
  explain: (id, injection) =>
    request(`/v1/branches/${encodeURIComponent(id)}/injections/explain`, { method: "POST", json: injection }),
  events: (id, fromSeq = 1, limit = 500) =>
    request(`/v1/branches/${encodeURIComponent(id)}/events?from_seq=${fromSeq}&limit=${limit}`),
  series: (id) => request(`/v1/branches/${encodeURIComponent(id)}/outcomes/series`),
  usage: (id) => request(`/v1/branches/${encodeURIComponent(id)}/usage`),
  compare: (a, b) => request(`/v1/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`),
  // memory and persistent agents
  why: (id, seq) => request(`/v1/branches/${encodeURIComponent(id)}/events/${encodeURIComponent(seq)}/why`),
  memories: (id, params = {}) =>
    request(`/v1/branches/${encodeURIComponent(id)}/memories?${new URLSearchParams(params)}`),
  commit: (id, agents) =>
    request(`/v1/branches/${encodeURIComponent(id)}/commit`, { method: "POST", json: agents ? { agents } : {} }),
  agentsList: () => request("/v1/agents"),
  agent: (id) => request(`/v1/agents/${encodeURIComponent(id)}`),
  createAgent: (body) => request("/v1/agents", { method: "POST", json: body }),
  updateAgent: (id, body) => request(`/v1/agents/${encodeURIComponent(id)}`, { method: "PATCH", json: body }),
  deleteAgent: (id) => request(`/v1/agents/${encodeURIComponent(id)}`, { method: "DELETE" }),
  agentMemories: (id, params = {}) =>
    request(`/v1/agents/${encodeURIComponent(id)}/memories?${new URLSearchParams(params)}`),
  // rollout sets (docs/rollouts.md): N futures from one point, live over /v1/rollouts/{id}/stream
  createRollouts: (branchId, body) =>
    request(`/v1/branches/${encodeURIComponent(branchId)}/rollouts`, { method: "POST", json: body }),
  rollouts: () => request("/v1/rollouts"),
  rollout: (id) => request(`/v1/rollouts/${encodeURIComponent(id)}`),
  rolloutStats: (id) => request(`/v1/rollouts/${encodeURIComponent(id)}/stats`),
  rolloutMembers: (id) => request(`/v1/rollouts/${encodeURIComponent(id)}/members`),
  continueRollouts: (id) => request(`/v1/rollouts/${encodeURIComponent(id)}/continue`, { method: "POST" }),
};

/** The most members a rollout set may have (the API refuses more). */
export const MAX_ROLLOUTS = 1000;

// What the key may do: GET /v1/me ({tenant_id, role, key_id, can}), fetched once per key — at
// sign-in, or on the first page load with a stored key — and kept here. The views offer only
// what `can` lists. A 403 on a change can still happen (the key's role was changed since): the
// refused action is then remembered for this key, /v1/me is asked again, and "aegntix:rights"
// tells the views to turn off what would be refused again.
const rights = { key: "", me: null, pending: null, refused: new Map() };

function resetRights(key) {
  if (rights.key === key) return;
  Object.assign(rights, { key, me: null, pending: null, refused: new Map() });
}

function rightsChanged() {
  window.dispatchEvent(new CustomEvent("aegntix:rights", { detail: whoAmI() }));
}

/**
 * Who the current key is (GET /v1/me), fetched once per key and kept; `force` asks again.
 * Rejects with the ApiError when the server refuses the key or cannot be reached; a server
 * without /v1/me (404) leaves the rights unknown (everything offered, refusals shown).
 */
export function loadMe({ force = false } = {}) {
  const key = currentKey();
  resetRights(key);
  if (!key) return Promise.resolve(null);
  if (rights.pending && !force) return rights.pending;
  const pending = request("/v1/me").then(
    (me) => {
      if (rights.key !== key) return null;
      rights.me = me && Array.isArray(me.can) ? me : null;
      rightsChanged();
      return rights.me;
    },
    (err) => {
      if (rights.key === key && rights.pending === pending) rights.pending = null; // ask again next time
      if (err instanceof ApiError && err.status === 404) {
        rights.pending = Promise.resolve(null);
        return null;
      }
      throw err;
    });
  rights.pending = pending;
  return pending;
}

/** The current key's /v1/me answer, once loaded (else null). */
export function whoAmI() {
  return rights.key === currentKey() ? rights.me : null;
}

/** True once /v1/me answered (or is known to be missing) for the current key. */
export function rightsKnown() {
  return rights.key === currentKey() && rights.pending !== null;
}

function noteRefusal(method, problem) {
  const key = currentKey();
  resetRights(key);
  const why = problem?.detail || "refused (403)";
  rights.refused.set(method === "DELETE" ? "delete" : "write", why);
  if (method !== "DELETE" && !rights.refused.has("delete")) rights.refused.set("delete", why); // no write, no delete
  rightsChanged();
  loadMe({ force: true }).catch(() => {}); // the role may have changed: show the new one
}

/**
 * Why the current key may not do `action` ("write", "delete", …), for a tooltip — or "" when
 * it may (or nothing says it may not).
 */
export function deniedReason(action) {
  const key = currentKey();
  if (rights.key !== key) return "";
  const me = rights.me;
  const allowed = me ? me.can.includes(action) : true;
  const refused = rights.refused.get(action);
  if (allowed && !refused) return "";
  if (!me || allowed) return `the server refused it: ${refused}`;
  if (action === "write" || !me.can.includes("write")) return `your key is read-only (${me.role})`;
  if (action === "delete") return `your key may not delete (${me.role})`;
  return `your key may not ${action.replace(/_/g, " ")} (${me.role})`;
}

/** True when the current key may do `action`, as far as the UI knows. */
export function can(action) {
  return !deniedReason(action);
}

/** Every event of a branch from a seq on, page by page. */
export async function allEvents(branchId, fromSeq = 1, { max = 20000 } = {}) {
  const out = [];
  let seq = fromSeq;
  for (;;) {
    const page = await api.events(branchId, seq, 500);
    const events = page?.events || [];
    out.push(...events);
    if (!events.length || out.length >= max) break;
    if (page.next_seq === null) break; // nothing more yet
    const next = page.next_seq ?? events[events.length - 1].seq + 1;
    if (next <= seq) break;
    seq = next;
  }
  return out;
}

/** Flattens a branch tree (nested children) into a list, parents first. */
export function flattenTree(tree) {
  const roots = treeRoots(tree);
  const out = [];
  const walk = (node, depth) => {
    out.push({ ...node, depth });
    for (const c of node.children || []) walk(c, depth + 1);
  };
  for (const r of roots || []) walk(r, 0);
  return out;
}

/** The tree answer as a list of roots (it may be one root, a list, or {roots: [...]}). */
export function treeRoots(tree) {
  if (!tree) return [];
  if (Array.isArray(tree)) return tree;
  if (Array.isArray(tree.roots)) return tree.roots;
  if (Array.isArray(tree.branches)) return tree.branches;
  return tree.id ? [tree] : [];
}
