// The injection preview of the fork dialog: how the offline rules brain reads the text, per
// agent (POST /v1/branches/{id}/injections/explain), refreshed as the user types.

import { h, clear, initials } from "./dom.js";
import { api } from "./api.js";

const DEBOUNCE_MS = 300;

/** A bar centred on 0: red to the left for a negative reading, green to the right. */
function directionBar(direction, weight) {
  const width = `${Math.round(Math.min(1, weight) * 50)}%`;
  const fill = h("span", { class: `rb-fill ${direction < 0 ? "rb-neg" : "rb-pos"}` });
  fill.style.width = width;
  if (direction < 0) fill.style.right = "50%";
  else fill.style.left = "50%";
  return h("span", { class: "rb", "aria-hidden": "true" }, h("span", { class: "rb-mid" }), weight > 0 ? fill : null);
}

function fmtSigned(x) {
  return `${x > 0 ? "+" : x < 0 ? "−" : "±"}${Math.abs(x).toFixed(2)}`;
}

function agentRow(a, colors) {
  const color = colors.get(a.agent_id) || "#697186";
  const moved = a.effective && a.mechanic !== "discussion" && a.brain === "rules";
  return h("li", {
    class: `rp-row${moved ? "" : " rp-still"}`,
    title: a.reason,
    "data-testid": `fork-preview-agent-${a.agent_id}`,
    "data-direction": String(a.direction),
    "data-effective": String(a.effective),
    "data-step": String(a.step), // the step it first hears it (the strategy's plan)
  },
  h("span", { class: "avatar avatar-xs", style: { background: color } }, initials(a.name)),
  h("span", { class: "rp-name" }, a.name, h("span", { class: "muted" }, ` · ${a.role}`)),
  directionBar(a.direction, moved ? a.weight : 0),
  h("span", { class: `rp-effect ${moved ? (a.direction > 0 ? "pos" : "neg") : ""}` }, a.effect),
  h("span", { class: "rp-nums muted" }, `${fmtSigned(a.direction)} · rel ${a.relevance.toFixed(2)}`));
}

/** Who first hears it at which step (the strategy's plan, from the explain answer). */
function whenList(found, agents) {
  const names = new Map(agents.map((a) => [a.id, a.name]));
  const total = agents.length;
  let reached = 0;
  return h("div", { class: "rp-when", "data-testid": "fork-preview-when", "data-strategy": found.strategy },
    h("strong", { class: "small" }, "Who hears it when"),
    h("ol", { class: "rp-when-list" }, (found.schedule || []).map((w) => {
      reached += w.agents.length;
      return h("li", { "data-testid": `fork-preview-when-${w.step}`, "data-count": String(w.agents.length) },
        h("span", { class: "rp-when-step" }, `step ${w.step}`),
        h("span", {}, w.agents.length === total ? "every agent" : w.agents.map((id) => names.get(id) || id).join(", ")),
        h("span", { class: "muted small" }, ` · ${reached} of ${total}`));
    })));
}

/** Reasons shared by every agent are said once, above the rows. */
function sharedReason(agents) {
  const reasons = new Set(agents.map((a) => a.reason));
  return reasons.size === 1 ? agents[0].reason : null;
}

/**
 * The preview panel. `read()` returns the injection as the dialog would send it, or null
 * when there is nothing to read; call `refresh()` whenever an input changes.
 * @param {{branchId: string, agents: object[], read: () => object|null, atStep?: number}} opts
 */
export function injectionPreview(opts) {
  const colors = new Map(opts.agents.map((a) => [a.id, a.color]));
  const body = h("div", { class: "rp-body" });
  const verdict = h("p", { class: "rp-verdict", "data-testid": "fork-preview-verdict" });
  const status = h("span", { class: "rp-status muted small" });
  const panel = h("section", { class: "rp", "data-testid": "fork-preview", "data-state": "empty", "aria-live": "polite" },
    h("header", { class: "rp-head" }, h("strong", {}, "How the offline agents read it"), status),
    verdict, body);
  let timer = 0;
  let asked = 0;

  const empty = () => {
    panel.dataset.state = "empty";
    status.textContent = "";
    verdict.textContent = "Type an injection to see, per agent, which way the rules brain reads it.";
    verdict.className = "rp-verdict muted";
    clear(body);
  };

  const show = (found) => {
    const moved = found.agents.some((a) => a.effective && a.mechanic !== "discussion" && a.brain === "rules");
    panel.dataset.state = moved ? "effect" : "none";
    verdict.className = `rp-verdict ${moved ? "rp-ok" : "rp-warn"}`;
    const said = found.verdict.replace("(--stance)", "(“Push stance” below)");
    verdict.textContent = moved ? `Expected effect — ${said.replace(/^.*?—\s*/, "")}` : said.charAt(0).toUpperCase() + said.slice(1);
    status.textContent = found.arguments_declared ? "read against the scenario's arguments" : "word lists only (no arguments declared)";
    clear(body);
    body.append(whenList(found, opts.agents));
    const shared = sharedReason(found.agents);
    if (shared) body.append(h("p", { class: "rp-reason muted small", "data-testid": "fork-preview-reason" }, shared));
    body.append(h("ul", { class: "rp-list" }, found.agents.map((a) => agentRow(a, colors))));
  };

  const ask = async () => {
    const injection = opts.read();
    if (!injection) return empty();
    const mine = ++asked;
    panel.dataset.state = "loading";
    try {
      // at the fork's step: a spread's order and steps depend on where it lands
      const body = opts.atStep === undefined ? injection : { ...injection, at_step: opts.atStep };
      const found = await api.explain(opts.branchId, body);
      if (mine === asked) show(found);
    } catch (err) {
      if (mine !== asked) return;
      panel.dataset.state = "error";
      verdict.className = "rp-verdict muted";
      verdict.textContent = `No preview: ${err.detail || err.message || err}`;
      clear(body);
    }
  };

  empty();
  return {
    element: panel,
    refresh() {
      clearTimeout(timer);
      timer = setTimeout(ask, DEBOUNCE_MS);
    },
  };
}
