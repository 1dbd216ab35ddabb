// The transcript: events grouped by step, appended live. Clicking a completed step's header
// asks to fork after that step.

import { h, clear, fmtNum, fmtStance, fmtValue, humanise, initials, isNumber, stanceBar } from "./dom.js";
import { memoryNote, whyControl } from "./memory.js";
import { settleToolRow, toolKey, toolRow } from "./toolrows.js";

export class Transcript {
  /**
   * @param {HTMLElement} scroller  the scrolling element
   * @param {{agents: Map<string, object>, onFork?: (step: number) => void, canFork?: () => boolean,
   *          compact?: boolean, outcomeNames?: string[],
   *          memory?: {branchId: string, scale: number} | null}} opts
   *   memory: set when the scenario has memory on ("why?" beside messages and actions)
   */
  constructor(scroller, opts) {
    this.scroller = scroller;
    this.agents = opts.agents;
    this.onFork = opts.onFork;
    this.canFork = opts.canFork || (() => true);
    this.compact = !!opts.compact;
    this.memory = opts.memory || null;
    this.list = h("div", { class: "steps" });
    this.emptyHint = h("span", {});
    this.empty = h("div", { class: "transcript-empty", "data-testid": "transcript-empty" },
      h("strong", {}, "Nothing has happened yet."), this.emptyHint);
    clear(scroller).append(this.empty, this.list);
    this.steps = new Map();
    this.toolCalls = new Map(); // agent|step|call -> its row (a result completes it)
    this.lastSeq = 0;
    this.count = 0;
    this.forkStep = null;
    this.refreshForking();
  }

  /** True when a completed step's header forks (there is a handler and the key may write). */
  forkable() {
    return Boolean(this.onFork) && this.canFork();
  }

  /** Turns forking from the step headers on or off (after canFork changed its answer). */
  refreshForking() {
    const ok = this.forkable();
    this.emptyHint.textContent = ok || !this.onFork
      ? " Press Run to start the scenario, or Step to advance one step at a time."
      : " It has not been run yet.";
    for (const [step, g] of this.steps) if (g.complete) this.setHead(g, step, ok);
  }

  setHead(g, step, ok) {
    const label = step === 0 ? "Start" : `Step ${step}`;
    g.head.disabled = !ok;
    g.head.title = ok ? `Fork a new branch after step ${step}` : "";
    g.head.setAttribute("aria-label", ok ? `${label}: fork after this step` : label);
  }

  /** Marks where this branch's own history starts (it inherits steps ≤ forkStep). */
  setForkStep(step) {
    this.forkStep = step;
  }

  nearBottom() {
    const el = this.scroller;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  }

  add(events) {
    if (!events.length) return;
    const stick = this.nearBottom();
    for (const e of events) {
      if (e.seq <= this.lastSeq) continue;
      this.lastSeq = e.seq;
      this.addOne(e);
    }
    this.empty.hidden = this.count > 0;
    if (stick) this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  group(step) {
    let g = this.steps.get(step);
    if (g) return g;
    const label = step === 0 ? "Start" : `Step ${step}`;
    const head = h("button", {
      class: "step-head",
      type: "button",
      "data-testid": `step-head-${step}`,
      "data-step": step,
      "aria-label": label,
      disabled: true,
      title: "This step is still in progress",
    },
    h("span", { class: "step-num" }, label),
    h("span", { class: "step-rule", "aria-hidden": "true" }),
    h("span", { class: "step-fork" }, forkIcon(), " Fork here"));
    head.addEventListener("click", () => {
      if (!head.disabled && this.forkable()) this.onFork(step);
    });
    const body = h("div", { class: "step-body" });
    const foot = h("div", { class: "step-foot", hidden: true });
    const section = h("section", { class: "step", "data-step": step, "data-testid": `step-${step}` }, head, body, foot);
    if (this.forkStep !== null && step === this.forkStep + 1 && step > 0) {
      this.list.append(h("div", { class: "fork-divider", "data-testid": "fork-divider" },
        h("span", {}, forkIcon(), ` This branch starts here — steps 0–${this.forkStep} are shared with its parent`)));
    }
    if (this.forkStep !== null && step <= this.forkStep) section.classList.add("inherited");
    this.list.append(section);
    g = { section, head, body, foot, complete: false };
    this.steps.set(step, g);
    return g;
  }

  completeStep(step) {
    const g = this.steps.get(step);
    if (!g || g.complete) return;
    g.complete = true;
    this.setHead(g, step, this.forkable());
    g.section.classList.add("complete");
  }

  addOne(e) {
    const g = this.group(e.step);
    const p = e.payload || {};
    if (e.kind === "system") {
      if (p.type === "start") {
        g.body.append(this.row(e, "system", null,
          h("div", { class: "ev-text" }, h("strong", {}, "Scenario started"), p.scenario ? ` — ${p.scenario}` : "")));
        this.completeStep(e.step);
      } else if (p.type === "step_end") {
        this.renderOutcomes(g.foot, p.outcomes || {}, e.step);
        this.completeStep(e.step);
      } else if (p.type === "rejected") {
        const who = this.agents.get(e.agent_id);
        g.body.append(this.row(e, "rejected", who,
          h("div", { class: "ev-text" }, h("strong", {}, "Rejected: "), p.reason || "an invalid move")));
      } else {
        g.body.append(this.row(e, "system", null, h("div", { class: "ev-text muted" }, humanise(p.type || "system"))));
      }
      return;
    }
    if (e.kind === "decision") {
      g.body.append(this.decisionRow(e));
      return;
    }
    if (e.kind === "message" || e.kind === "action") {
      const who = this.agents.get(e.agent_id);
      const parts = [];
      if (e.kind === "action") parts.push(h("span", { class: "action-badge" }, gearIcon(), humanise(p.action || "action")));
      if (p.text) parts.push(h("span", {}, p.text));
      const row = this.row(e, e.kind, who, h("div", { class: "ev-text" }, parts), this.chips(p.fields || {}));
      if (this.memory && e.agent_id) {
        const { button, panel } = whyControl(e, this.memory, this.agents);
        row.querySelector(".ev-meta .seq").before(button);
        row.querySelector(".ev-main").append(panel);
      }
      g.body.append(row);
      return;
    }
    if (e.kind === "memory") {
      // one per agent and step: nothing to show, except a reflection or a persona drift
      const note = memoryNote(e, this.agents);
      if (note) {
        g.body.append(note);
        this.count += 1;
      }
      return;
    }
    if (e.kind === "injection") {
      const targets = Array.isArray(p.targets) && p.targets.length
        ? p.targets.map((t) => this.agents.get(t)?.name || t).join(", ")
        : "everyone";
      const strategy = p.strategy || "broadcast";
      const el = h("div", { class: "ev ev-injection", "data-testid": "event", "data-kind": "injection", "data-seq": e.seq },
        h("div", { class: "inj-icon", "aria-hidden": "true" }, boltIcon()),
        h("div", { class: "ev-main" },
          h("div", { class: "ev-meta" },
            h("span", { class: "inj-title" }, "Injection"),
            h("span", { class: "pill pill-inj" }, strategy),
            h("span", { class: "muted" }, heardBy(p, strategy, targets, (id) => this.agents.get(id)?.name || id)),
            h("span", { class: "seq" }, `#${e.seq}`)),
          h("div", { class: "ev-text" }, p.content || ""),
          this.chips(p.fields || {}, true)));
      g.body.append(el);
      this.count += 1;
      return;
    }
    if (e.kind === "world") {
      const set = p.set || {};
      const keys = Object.keys(set);
      if (!keys.length) return;
      const text = keys.slice(0, 6).map((k) => `${k.replace(/^world\./, "").replace(/^agents\./, "")} = ${fmtValue(set[k])}`).join(" · ")
        + (keys.length > 6 ? ` · +${keys.length - 6} more` : "");
      g.body.append(h("div", { class: "ev ev-world", "data-testid": "event", "data-kind": "world", "data-seq": e.seq },
        h("span", { class: "world-cause" }, humanise(p.cause || "world")), h("span", { class: "world-set" }, text)));
      return;
    }
    if (e.kind === "tool_call" || e.kind === "tool_result") {
      const key = toolKey(e);
      let el = this.toolCalls.get(key);
      if (!el) {
        el = toolRow((...args) => this.row(...args), e, this.agents.get(e.agent_id));
        this.toolCalls.set(key, el);
        g.body.append(el);
      }
      if (e.kind === "tool_result") settleToolRow(el, e);
      return;
    }
    // future kinds: a quiet generic row
    const who = this.agents.get(e.agent_id);
    g.body.append(this.row(e, e.kind, who, h("div", { class: "ev-text muted" }, `${humanise(e.kind)}: ${fmtValue(p.text || p.name || p)}`)));
  }

  /** A model-backed decision: a quiet line (which model, tokens) before what the agent did. */
  decisionRow(e) {
    const p = e.payload || {};
    const agent = this.agents.get(e.agent_id);
    const calls = Array.isArray(p.calls) ? p.calls.length : 0;
    const parts = [[p.provider, p.model].filter(Boolean).join(" · ") || "model"];
    if (p.tokens_in || p.tokens_out) parts.push(`${fmtNum(p.tokens_in || 0, { digits: 0 })} → ${fmtNum(p.tokens_out || 0, { digits: 0 })} tokens`);
    if (calls > 1) parts.push(`${calls} calls`);
    if (p.fallback) parts.push(`fell back to the rules brain (${humanise(p.fallback)})`);
    this.count += 1;
    return h("div", {
      class: `ev ev-decision${p.fallback ? " ev-fallback" : ""}`,
      "data-testid": "event",
      "data-kind": "decision",
      "data-seq": e.seq,
      "data-agent": e.agent_id || "",
      title: `${agent?.name || e.agent_id || "An agent"} decided with a model${isNumber(p.cost) ? ` · cost ${p.cost}` : ""}`,
    }, h("span", { class: "decision-icon", "aria-hidden": "true" }, gearIcon()), h("span", { class: "decision-text" }, parts.join(" · ")));
  }

  row(e, kind, agent, ...content) {
    const p = e.payload || {};
    const color = agent?.color || "#8b93a7";
    const avatar = agent
      ? h("span", { class: "avatar", style: { background: color }, "aria-hidden": "true" }, initials(agent.name))
      : h("span", { class: "avatar avatar-system", "aria-hidden": "true" }, kind === "rejected" ? "!" : "•");
    const meta = h("div", { class: "ev-meta" });
    if (agent) {
      meta.append(h("span", { class: "who", style: { color } }, agent.name), h("span", { class: "role" }, agent.role));
    } else if (e.agent_id) {
      meta.append(h("span", { class: "who" }, e.agent_id));
    } else {
      meta.append(h("span", { class: "who who-system" }, "System"));
    }
    const to = Array.isArray(p.to) ? p.to : p.to ? [p.to] : [];
    if (to.length) meta.append(h("span", { class: "to" }, `→ ${to.map((t) => this.agents.get(t)?.name || t).join(", ")}`, h("span", { class: "private" }, "private")));
    meta.append(h("span", { class: "seq" }, `#${e.seq}`));
    const el = h("div", {
      class: `ev ev-${kind}`,
      "data-testid": "event",
      "data-kind": e.kind,
      "data-seq": e.seq,
      "data-agent": e.agent_id || "",
      style: agent ? { "--agent": color } : null,
    }, avatar, h("div", { class: "ev-main" }, meta, ...content));
    this.count += 1;
    return el;
  }

  chips(fields, push = false) {
    const out = [];
    if (isNumber(fields.stance)) {
      out.push(h("span", { class: "chip chip-stance", title: push ? "stance push" : "stance (−1 against … +1 for)" },
        h("span", { class: "chip-k" }, push ? "push stance" : "stance"), stanceBar(fields.stance), h("span", { class: "chip-v" }, fmtStance(fields.stance))));
    }
    if (isNumber(fields.offer)) {
      out.push(h("span", { class: "chip chip-offer" }, h("span", { class: "chip-k" }, "offer"), h("span", { class: "chip-v" }, fmtNum(fields.offer, { digits: 2 }))));
    }
    if (fields.accept === true) out.push(h("span", { class: "chip chip-accept" }, "✓ accepts"));
    if (fields.accept === false && "accept" in fields) out.push(h("span", { class: "chip chip-decline" }, "declines"));
    for (const [k, v] of Object.entries(fields)) {
      if (["stance", "offer", "accept"].includes(k) || v === null || v === undefined) continue;
      if (typeof v === "object") continue;
      out.push(h("span", { class: "chip" }, h("span", { class: "chip-k" }, humanise(k)), h("span", { class: "chip-v" }, fmtValue(v))));
    }
    return out.length ? h("div", { class: "chips" }, out) : null;
  }

  renderOutcomes(foot, outcomes, step) {
    clear(foot);
    const items = [];
    for (const [k, v] of Object.entries(outcomes)) {
      if (v !== null && typeof v === "object") continue;
      items.push(h("span", { class: `oc${typeof v === "boolean" ? (v ? " oc-yes" : " oc-no") : ""}` },
        h("span", { class: "oc-k" }, humanise(k)), " ", h("span", { class: "oc-v" }, fmtValue(v))));
    }
    if (!items.length) return;
    foot.append(h("span", { class: "foot-label" }, `after step ${step}`), ...items);
    foot.hidden = false;
  }
}

function icon(d, cls = "icon") {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("class", cls);
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}

export function forkIcon() {
  return icon("M4 2.5v11M4 8c0-2.5 2-3.5 4.5-3.5H12m0 0-2-2m2 2-2 2", "icon icon-stroke");
}

export function boltIcon() {
  return icon("M9 1.5 3.5 9H8l-1 5.5L12.5 7H8l1-5.5z", "icon icon-fill");
}

export function gearIcon() {
  return icon("M8 5.5a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5zM8 1.5v2m0 9v2M1.5 8h2m9 0h2M3.4 3.4l1.4 1.4m6.4 6.4 1.4 1.4m0-9.2-1.4 1.4M4.8 11.2l-1.4 1.4", "icon icon-stroke");
}

/** Who an injection event reaches, in words (a gradual spread: this wave, or its first). */
function heardBy(p, strategy, targets, nameOf) {
  if (strategy === "direct") return `to ${targets}`;
  if (p.wave) return `reaches ${targets} (${p.wave.offset} step${p.wave.offset === 1 ? "" : "s"} after #${p.wave.of})`;
  if (Array.isArray(p.waves)) {
    const first = p.waves.find((w) => w.offset === 0);
    const later = p.waves.filter((w) => w.offset > 0).length;
    const now = first ? first.agents.map(nameOf).join(", ") : "no one yet";
    return `reaches ${now} now${later ? `, ${later} more wave${later === 1 ? "" : "s"} to come` : ""}`;
  }
  return "heard by everyone";
}
