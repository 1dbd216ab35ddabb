// Tool calls in the transcript: a `tool_call` and its `tool_result` (same agent, step and
// `call` index) as one row — who called, `server · tool`, the arguments, then the result
// or the error and the latency. Until the result arrives (live) the row shows as pending.
// Payloads: src/aegntix/tools/base.py (AgentTools).

import { h, clear, fmtNum, isNumber } from "./dom.js";

/** Longer than this (as one line of JSON), a value is folded into a <details>. */
const INLINE_CHARS = 90;

/** The key that pairs a call with its result. */
export function toolKey(e) {
  return `${e.agent_id || ""}|${e.step}|${e.payload?.call ?? ""}`;
}

/** A latency for people: 0.4 ms, 17 ms, 1.3 s. */
export function fmtMs(ms) {
  if (!isNumber(ms)) return "";
  if (ms < 0.1) return "<0.1 ms";
  if (ms < 1) return `${fmtNum(ms, { digits: 1 })} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${fmtNum(ms / 1000, { digits: 1 })} s`;
}

/** A server's wrapped scalar (`{"result": x}`, how MCP returns a number or a text) is shown as x. */
function shown(result) {
  if (result && typeof result === "object" && !Array.isArray(result)) {
    const keys = Object.keys(result);
    if (keys.length === 1 && keys[0] === "result") return result.result;
  }
  return result;
}

function oneLine(v) {
  return typeof v === "string" ? v : JSON.stringify(v);
}

const WIDTH = 56; // fits the transcript's narrowest pre without wrapping

/** Pretty JSON that stays readable: a short value on one line, a list of numbers or words
 *  filled into lines of ~56 characters rather than one item a line. */
export function prettyJson(v, pad = "") {
  const line = JSON.stringify(v);
  if (v === null || typeof v !== "object" || line.length + pad.length <= WIDTH) return line;
  const inner = `${pad}  `;
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== "object")) {
      const lines = [];
      let cur = "";
      for (const item of v.map((x) => JSON.stringify(x))) {
        if (cur && inner.length + cur.length + item.length + 2 > WIDTH) {
          lines.push(cur);
          cur = "";
        }
        cur += cur ? ` ${item},` : `${item},`;
      }
      lines.push(cur.replace(/,$/, ""));
      return `[\n${lines.map((l) => inner + l).join("\n")}\n${pad}]`;
    }
    return `[\n${v.map((x) => inner + prettyJson(x, inner)).join(",\n")}\n${pad}]`;
  }
  const items = Object.entries(v).map(([k, x]) => `${inner}${JSON.stringify(k)}: ${prettyJson(x, inner)}`);
  return `{\n${items.join(",\n")}\n${pad}}`;
}

/** A value inline when short, else a <details> whose summary previews it and whose body is
 *  the pretty-printed JSON. */
function foldable(v, testid, label) {
  const line = oneLine(v) ?? "null";
  if (line.length <= INLINE_CHARS && !line.includes("\n")) {
    return h("code", { class: "tool-value", "data-testid": testid }, line);
  }
  const pretty = typeof v === "string" ? v : prettyJson(v);
  return h("details", { class: "tool-fold", "data-testid": testid },
    h("summary", { "aria-label": `${label}: show all` },
      h("code", { class: "tool-value tool-preview" }, `${line.slice(0, INLINE_CHARS - 1)}…`)),
    h("pre", { class: "tool-pre", tabindex: "0" }, pretty));
}

function argsLine(p) {
  const args = p.arguments;
  if (args === undefined) return null; // a result whose call is not in view
  const empty = args && typeof args === "object" && !Object.keys(args).length;
  return h("div", { class: "tool-line tool-args" },
    h("span", { class: "tool-k" }, "args"),
    empty ? h("span", { class: "muted", "data-testid": "tool-args" }, "none") : foldable(args, "tool-args", "Arguments"));
}

/**
 * The row of one call (from its `tool_call`, or from a `tool_result` whose call is not in
 * view): `row` is Transcript.row (avatar and the agent's name, as other rows have).
 */
export function toolRow(row, e, agent) {
  const p = e.payload || {};
  const server = p.server || String(p.name || "").split(".")[0] || "tool";
  const tool = p.tool || String(p.name || "").split(".").slice(1).join(".") || "?";
  const result = h("div", { class: "tool-line tool-result", "data-testid": "tool-result" },
    h("span", { class: "tool-k" }, "result"),
    h("span", { class: "tool-waiting muted" }, h("span", { class: "spinner tool-spinner", "aria-hidden": "true" }), "waiting for the result…"));
  const el = row(e, "tool", agent, argsLine(p), result);
  el.dataset.kind = "tool_call";
  el.dataset.state = "pending";
  el.dataset.server = server;
  el.dataset.tool = tool;
  el.dataset.call = String(p.call ?? "");
  el.setAttribute("aria-busy", "true");
  const badge = h("span", { class: "tool-badge", "data-testid": "tool-badge", title: `Tool ${server}.${tool}` },
    wrenchIcon(), h("span", { class: "tool-server" }, server), h("span", { class: "tool-dot", "aria-hidden": "true" }, "·"),
    h("span", { class: "tool-name" }, tool));
  const state = h("span", { class: "tool-state", "data-testid": "tool-state" }, "calling…");
  const seq = el.querySelector(".ev-meta .seq");
  seq.before(badge, state);
  el.toolParts = { result, state, seq };
  return el;
}

/** Fills a call's row with its `tool_result`: the result (or the error, in red) and latency. */
export function settleToolRow(el, e) {
  const p = e.payload || {};
  const { result, state, seq } = el.toolParts;
  const failed = p.error !== undefined && p.error !== null;
  el.dataset.state = failed ? "error" : "ok";
  el.dataset.resultSeq = String(e.seq);
  el.removeAttribute("aria-busy");
  el.classList.toggle("ev-tool-error", failed);
  if (seq && Number(el.dataset.seq) !== e.seq) seq.textContent = `#${el.dataset.seq}–${e.seq}`;
  clear(state).append(failed ? h("span", { class: "tool-failed" }, "failed") : "", isNumber(p.latency_ms) ? ` ${fmtMs(p.latency_ms)}` : "");
  state.title = isNumber(p.latency_ms) ? `answered in ${fmtNum(p.latency_ms, { digits: 3 })} ms` : "";
  clear(result);
  if (failed) {
    result.classList.add("tool-error");
    result.append(h("span", { class: "tool-k" }, "error"), h("span", { class: "tool-error-text", "data-testid": "tool-error" }, String(p.error)));
    return;
  }
  result.append(h("span", { class: "tool-k" }, "result"), foldable(shown(p.result), "tool-value", "Result"));
  if (p.truncated) result.append(h("span", { class: "tool-cut", title: "The result was longer than the scenario's max_result_chars" }, "cut to the size limit"));
}

function wrenchIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("class", "icon icon-stroke");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M10.5 2a3.5 3.5 0 0 0-3.3 4.6L2.5 11.3a1.3 1.3 0 0 0 1.9 1.9l4.7-4.7A3.5 3.5 0 0 0 13.6 5l-2 2-2-.6-.6-2 2-2z");
  svg.append(path);
  return svg;
}
