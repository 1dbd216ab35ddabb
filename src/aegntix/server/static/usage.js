// Model usage: tokens and cost of the LLM brains, from GET /v1/branches/{id}/usage.
// "Recorded" is what the decisions in a branch's timeline cost (inherited steps included);
// "billed" is the provider calls actually paid for (a fork served from the cache bills nothing).

import { h, clear, fmtNum, initials, isNumber } from "./dom.js";

/** Tokens: exact with separators below 100,000, then 123.4k / 12.3M. */
export function fmtTokens(v) {
  if (!isNumber(v)) return "—";
  if (Math.abs(v) < 100_000) return v.toLocaleString("en-US");
  if (Math.abs(v) < 10_000_000) return `${(v / 1000).toFixed(1)}k`;
  return `${(v / 1_000_000).toFixed(1)}M`;
}

/** Cost in the scenario's price unit (prices are per 1,000 tokens; no currency is implied):
 * four decimals, as `aegntix usage` prints it; two from 1,000 up. */
export function fmtCost(v) {
  if (!isNumber(v)) return "—";
  if (v === 0) return "0";
  if (Math.abs(v) < 0.00005) return "<0.0001";
  const d = Math.abs(v) >= 1000 ? 2 : 4;
  return v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** A number cell; the exact value rides along in data-value (and the title when rounded). */
function numCell(v, format, { tag = "td", cls = "" } = {}) {
  const text = format(v);
  const exact = isNumber(v) ? String(v) : "";
  return h(tag, { class: `num${cls ? ` ${cls}` : ""}`, "data-value": exact, title: exact && text !== v.toLocaleString("en-US") ? exact : null }, text);
}

/** agent id -> the brain kind it decides with ("rules", "openai", "anthropic"). */
export function brainKinds(spec) {
  const base = spec?.brain?.kind || spec?.brain?.provider || "rules";
  return new Map((spec?.agents || []).map((a) => [a.id, a.brain?.kind || a.brain?.provider || base]));
}

/** True when the report has anything a model did or was paid for in this branch. */
export function hasModelUsage(report) {
  return (report?.recorded?.total?.decisions || 0) > 0 || (report?.billed?.branch?.calls || 0) > 0;
}

const RECORDED_COLS = [
  ["decisions", "Dec.", "decisions made by a model", fmtNum],
  ["calls", "Calls", "model calls (a repaired answer is a second call)", fmtNum],
  ["tokens_in", "In", "tokens in", fmtTokens],
  ["tokens_out", "Out", "tokens out", fmtTokens],
  ["cost", "Cost", "at the scenario's prices", fmtCost],
];
const BILLED_COLS = RECORDED_COLS.slice(1);

function head(cols, first) {
  return h("thead", {}, h("tr", {}, h("th", { scope: "col" }, first),
    cols.map(([, label, title]) => h("th", { class: "num", scope: "col", title }, label))));
}

function plural(n, word) {
  return `${fmtNum(n)} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * The branch view's Usage panel body.
 * @param {HTMLElement} box
 * @param {object|null} report  the /usage answer (null: not loaded yet)
 * @param {{agents: Map<string, object>, agentList: object[], spec: object, models: Map<string, Set<string>>,
 *          isFork: boolean, error?: string}} ctx
 */
export function renderUsage(box, report, ctx) {
  clear(box);
  if (ctx.error) {
    box.append(h("p", { class: "muted small", "data-testid": "usage-error" }, ctx.error));
    return;
  }
  if (!report) {
    box.append(h("p", { class: "muted small" }, "Loading…"));
    return;
  }
  const kinds = brainKinds(ctx.spec);
  const modelAgents = ctx.agentList.filter((a) => kinds.get(a.id) !== "rules");
  const recorded = report.recorded || {};
  const total = recorded.total || {};
  const billed = report.billed || {};

  if (!modelAgents.length && !hasModelUsage(report)) {
    box.append(h("p", { class: "usage-offline", "data-testid": "usage-offline" },
      h("strong", {}, "Offline rules brain"), " — no model usage."));
    if ((billed.tenant?.calls || 0) > 0) {
      box.append(h("p", { class: "muted small usage-note", "data-testid": "usage-tenant-note" },
        `Tenant total: ${plural(billed.tenant.calls, "model call")}, cost ${fmtCost(billed.tenant.cost)}.`));
    }
    return;
  }

  // -- recorded, per agent
  const perAgent = Object.entries(recorded.agents || {});
  const allModels = new Set([...ctx.models.values()].flatMap((s) => [...s]));
  if (perAgent.length) {
    const rows = perAgent.map(([id, u]) => {
      const agent = ctx.agents.get(id);
      const name = agent?.name || id || "—";
      const models = [...(ctx.models.get(id) || [])];
      const fb = u.fallbacks || 0;
      const title = [name, models.join(", "), fb ? plural(fb, "fallback") : ""].filter(Boolean).join(" · ");
      // In the narrow side column an agent is its avatar (as in the Agents panel); the name
      // shows where there is room (see style.css).
      return h("tr", { "data-testid": "usage-agent", "data-agent": id, "data-fallbacks": fb },
        h("th", { scope: "row", class: "usage-who", title },
          h("span", { class: "usage-agent" },
            h("span", { class: "avatar avatar-xs", style: { background: agent?.color || "#8b93a7" }, "aria-hidden": "true" }, initials(name)),
            h("span", { class: "usage-label" }, name),
            fb ? h("span", { class: "usage-fallback usage-fb" }, `⚠${fb}`) : null),
          allModels.size > 1 && models.length ? h("span", { class: "usage-sub" }, models.join(", ")) : null),
        RECORDED_COLS.map(([k, , , f]) => numCell(u[k], f)));
    });
    const foot = h("tr", { "data-testid": "usage-total", "data-fallbacks": total.fallbacks ?? 0 },
      h("th", { scope: "row", title: "all agents" }, "All"), RECORDED_COLS.map(([k, , , f]) => numCell(total[k], f)));
    box.append(h("div", { class: "usage-cap" }, h("span", {}, "Recorded"), h("span", { class: "muted" }, "in this timeline")),
      h("div", { class: "table-wrap" }, h("table", { class: "table usage-table", "data-testid": "usage-recorded" },
        head(RECORDED_COLS, "Agent"), h("tbody", {}, rows), h("tfoot", {}, foot))));
    const fb = total.fallbacks || 0;
    const who = perAgent.filter(([, u]) => u.fallbacks).map(([id, u]) => `${ctx.agents.get(id)?.name || id} ${u.fallbacks}`);
    box.append(h("p", { class: `small usage-note${fb ? " usage-fallback" : " muted"}`, "data-testid": "usage-fallbacks", "data-value": fb },
      fb ? `⚠ ${plural(fb, "decision")} fell back to the rules brain (${who.join(", ")}).` : "No fallbacks to the rules brain."));
    if (ctx.isFork && recorded.own) {
      const own = recorded.own;
      box.append(h("p", { class: "muted small usage-note", "data-testid": "usage-own" },
        `Since the fork: ${plural(own.decisions || 0, "decision")}, ${fmtTokens(own.tokens_in)} in / ${fmtTokens(own.tokens_out)} out, cost ${fmtCost(own.cost)}.`));
    }
  } else {
    box.append(h("p", { class: "muted small usage-note", "data-testid": "usage-none-yet" }, "No model decisions yet."));
  }
  const quiet = ctx.agentList.filter((a) => !(recorded.agents || {})[a.id] && kinds.get(a.id) === "rules");
  if (quiet.length) {
    box.append(h("p", { class: "muted small usage-note", "data-testid": "usage-rules-agents" },
      `Rules brain (no usage): ${quiet.map((a) => a.name).join(", ")}.`));
  }

  // -- billed: calls actually paid for
  const scopes = [["branch", "Branch"], ["scenario", "Scenario"], ["tenant", "Tenant"]];
  box.append(h("div", { class: "usage-cap" }, h("span", {}, "Billed"), h("span", { class: "muted" }, "provider calls paid for")),
    h("div", { class: "table-wrap" }, h("table", { class: "table usage-table", "data-testid": "usage-billed" },
      head(BILLED_COLS, ""),
      h("tbody", {}, scopes.map(([k, label]) => h("tr", { "data-testid": "usage-billed-row", "data-scope": k },
        h("th", { scope: "row" }, label), BILLED_COLS.map(([col, , , f]) => numCell(billed[k]?.[col], f))))))));
}

/** The models named in a branch's decision events, per agent ("openai · gpt-4o-mini"). */
export function noteModels(models, events) {
  for (const e of events) {
    if (e.kind !== "decision") continue;
    const p = e.payload || {};
    if (!p.model && !p.provider) continue;
    const name = [p.provider, p.model].filter(Boolean).join(" · ");
    const set = models.get(e.agent_id || "") || new Set();
    set.add(name);
    models.set(e.agent_id || "", set);
  }
}

const COMPARE_GROUPS = [
  ["recorded", "Recorded in the timeline", [
    ["decisions", "Decisions", fmtNum],
    ["calls", "Calls", fmtNum],
    ["tokens_in", "Tokens in", fmtTokens],
    ["tokens_out", "Tokens out", fmtTokens],
    ["cost", "Cost", fmtCost],
    ["fallbacks", "Fallbacks", fmtNum],
  ]],
  ["billed", "Billed to the branch", [
    ["calls", "Calls", fmtNum],
    ["cost", "Cost", fmtCost],
  ]],
];

/**
 * The compare view's model-usage table, or null when neither branch used a model.
 * @param {object|null} ua  /usage of A
 * @param {object|null} ub  /usage of B
 */
export function usageCompare(ua, ub, { labelA, labelB, colorA, colorB }) {
  if (!hasModelUsage(ua) && !hasModelUsage(ub)) return null;
  const pick = (u, key, where) => (where === "billed" ? u?.billed?.branch?.[key] : u?.recorded?.total?.[key]);
  const rows = COMPARE_GROUPS.flatMap(([where, title, metrics]) => [
    h("tr", { class: "group-row" }, h("th", { colspan: 4, scope: "rowgroup" }, title)),
    ...metrics.map(([key, label, f]) => {
      const va = pick(ua, key, where);
      const vb = pick(ub, key, where);
      const d = isNumber(va) && isNumber(vb) ? Math.round((vb - va) * 1e10) / 1e10 : null;
      const delta = d === null ? h("td", { class: "num delta delta-zero" }, "—")
        : d === 0 ? h("td", { class: "num delta delta-zero" }, "0")
          : h("td", { class: "num delta usage-delta", "data-value": d }, `${d > 0 ? "+" : "−"}${f(Math.abs(d))}`);
      return h("tr", { class: "sub-row", "data-testid": "usage-compare-row", "data-metric": `${where}.${key}` },
        h("th", { scope: "row" }, label), numCell(va, f), numCell(vb, f), delta);
    }),
  ]);
  return h("section", { class: "panel", "data-testid": "usage-compare" },
    h("div", { class: "panel-head" }, h("h2", {}, "Model usage"), h("span", { class: "muted small" }, "billed: calls the branch paid for, not served from the cache")),
    h("div", { class: "table-wrap" }, h("table", { class: "table" },
      h("thead", {}, h("tr", {}, h("th", {}, "usage"),
        h("th", { class: "num" }, h("span", { class: "dot", style: { background: colorA } }), labelA),
        h("th", { class: "num" }, h("span", { class: "dot", style: { background: colorB } }), labelB),
        h("th", { class: "num" }, "Δ B − A"))),
      h("tbody", {}, rows))));
}
