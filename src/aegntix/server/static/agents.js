// Persistent agents (profiles, /v1/agents): the start page's section (a card per agent, its
// persona as small bars: core against current), the "New persistent agent" dialog, and the
// profile view (#/agents/<id>): persona, how its traits moved across versions, the versions
// (each a kept branch), the scenarios it took part in, and the memories it kept.

import { api, ApiError, deniedReason } from "./api.js";
import { niceTicks } from "./charts.js";
import { h, s, clear, fmtNum, initials, isNumber, setDenied, shortId, timeAgo, toast } from "./dom.js";
import { fmtScore } from "./memory.js";

// the trait names come from the server (GET /v1/meta, loaded before any view)
export { TRAITS as BIG_FIVE } from "./meta.js";
import { TRAITS as BIG_FIVE, ADAPTIVE_DEFAULT as DEFAULT_ADAPTIVE } from "./meta.js";
/** The two ends of each trait, for people. */
const POLES = {
  openness: ["conventional", "curious"],
  conscientiousness: ["spontaneous", "disciplined"],
  extraversion: ["reserved", "outgoing"],
  agreeableness: ["tough", "accommodating"],
  neuroticism: ["calm", "anxious"],
};
const TRAIT_COLORS = {
  openness: "#3f5bd8",
  conscientiousness: "#2f8a4c",
  extraversion: "#d9622b",
  agreeableness: "#138a9e",
  neuroticism: "#c93b6b",
};
const PROFILE_COLOR = "#7c5ce0";
const MEMORY_PAGE = 20;
const DRIFT_SHOWN = 0.0005; // smaller moves are not drawn (they would round to 0.000)

const num = (v, fallback = 0.5) => (isNumber(v) ? v : fallback);
const sentence = (text) => text.replace(/^\w/, (c) => c.toUpperCase());

/** "+0.169" / "−0.030": a signed trait change. */
function fmtDelta(d) {
  const t = fmtScore(Math.abs(d));
  return `${d >= 0 ? "+" : "−"}${t}`;
}

/** 1 − mean |current − core| over the Big Five (as the server computes consistency). */
export function consistencyOf(traits, persona) {
  const diffs = BIG_FIVE.map((t) => Math.abs(num(traits?.[t], num(persona[t])) - num(persona[t])));
  return 1 - diffs.reduce((a, b) => a + b, 0) / BIG_FIVE.length;
}

function consistencyState(c, threshold) {
  if (!isNumber(c)) return "";
  if (c < threshold) return "bad";
  return c - threshold < 0.05 ? "warn" : "ok";
}

// ------------------------------------------------------------------------------------------
// the persona as bars

/**
 * The Big Five as small horizontal bars: a fill to the current value, a tick at the core, the
 * drift between them in amber; adaptive traits are marked.
 * @param {object} persona  the profile's core persona (Big Five, adaptive, ...)
 * @param {object} traits   its current Big Five
 */
export function personaBars(persona, traits, { detailed = false } = {}) {
  const adaptive = new Set(persona?.adaptive || []);
  return h("div", { class: `trait-bars${detailed ? " detailed" : ""}`, "data-testid": "persona-bars" },
    BIG_FIVE.map((t) => {
      const core = num(persona?.[t]);
      const cur = num(traits?.[t], core);
      const d = cur - core;
      const drifted = Math.abs(d) >= DRIFT_SHOWN;
      const isAdaptive = adaptive.has(t);
      const lo = Math.min(core, cur);
      const title = `${t}: core ${fmtScore(core)}, now ${fmtScore(cur)}${drifted ? ` (${fmtDelta(d)})` : ""}`
        + (isAdaptive ? " · adaptive: drifts with experience" : " · fixed");
      return h("div", {
        class: `tb${isAdaptive ? " adaptive" : ""}${drifted ? " drifted" : ""}`,
        "data-testid": "trait-bar",
        "data-trait": t,
        "data-core": String(core),
        "data-value": String(cur),
        "data-adaptive": String(isAdaptive),
        title,
      },
      h("span", { class: "tb-name" },
        h("span", { class: "tb-label" }, t),
        isAdaptive ? h("span", { class: "tb-adaptive", "data-testid": "trait-adaptive", "aria-label": "adaptive" }, "↝") : null),
      h("span", { class: "tb-track", "aria-hidden": "true" },
        h("span", { class: "tb-fill", style: { width: `${cur * 100}%` } }),
        drifted ? h("span", { class: `tb-drift ${d > 0 ? "up" : "down"}`, style: { left: `${lo * 100}%`, width: `${Math.abs(d) * 100}%` } }) : null,
        h("span", { class: "tb-core", style: { left: `${core * 100}%` } })),
      detailed
        ? h("span", { class: "tb-value" },
          drifted ? h("span", { class: "tb-from" }, `${fmtScore(core)} → `) : null,
          h("span", { class: "tb-now" }, fmtScore(cur)),
          drifted ? h("span", { class: `tb-delta ${d > 0 ? "up" : "down"}` }, fmtDelta(d)) : null)
        // compact (a card): two decimals; the exact values are in the tooltip
        : h("span", { class: "tb-value" },
          h("span", { class: "tb-now" }, cur.toFixed(2)),
          Math.abs(d) >= 0.005 ? h("span", { class: `tb-delta ${d > 0 ? "up" : "down"}` }, `${d > 0 ? "+" : "−"}${Math.abs(d).toFixed(2)}`) : null));
    }));
}

function barsLegend() {
  return h("div", { class: "bars-legend", "aria-hidden": "true" },
    h("span", {}, h("span", { class: "lg-fill" }), "now"),
    h("span", {}, h("span", { class: "lg-core" }), "core"),
    h("span", {}, h("span", { class: "lg-drift" }), "drift"),
    h("span", {}, h("span", { class: "tb-adaptive" }, "↝"), "adaptive"));
}

function agentAvatar(name, size = "") {
  return h("span", { class: `avatar profile-avatar ${size}`, style: { background: PROFILE_COLOR } }, initials(name));
}

// ------------------------------------------------------------------------------------------
// the start page's section

/**
 * The "Persistent agents" section of the start page; loads the list itself.
 * @param {{alive: () => boolean, onError: (err: Error, what: string) => void}} ctx
 */
export function agentsSection(ctx) {
  const grid = h("div", { class: "agent-grid", "data-testid": "agent-list" },
    h("div", { class: "loading" }, h("span", { class: "spinner" }), "Loading persistent agents…"));
  const newBtn = h("button", { class: "btn btn-small agent-new-btn", type: "button", "data-testid": "agent-new" }, "+ New persistent agent");
  // what the key may do (GET /v1/me; a later 403 updates it): no "New" for a read-only key
  const syncRights = () => {
    newBtn.disabled = !setDenied(newBtn, "write", deniedReason("write"));
  };
  let highlight = "";
  const load = async () => {
    try {
      const list = await api.agentsList();
      if (!ctx.alive()) return;
      renderAgentGrid(grid, list || [], highlight);
      highlight = "";
    } catch (err) {
      if (!ctx.alive()) return;
      clear(grid).append(h("p", { class: "muted empty-note" }, `Persistent agents are not available: ${err.message}`));
      if (!(err instanceof ApiError)) ctx.onError(err, "Could not load the persistent agents");
    }
  };
  newBtn.addEventListener("click", () => openAgentForm({
    onCreated: (profile) => {
      highlight = profile.id;
      toast(`Created “${profile.name}”`, { detail: `Name it in a scenario with  profile: ${profile.id}` });
      load();
    },
  }));
  window.addEventListener("aegntix:rights", syncRights);
  syncRights();
  load();
  const section = h("section", { class: "home-section", id: "agents", "data-testid": "agents-section" },
    h("div", { class: "section-head" },
      h("h2", {}, "Persistent agents"),
      h("span", { class: "muted" }, "they carry a persona and what they lived through from one scenario to the next"),
      newBtn),
    grid);
  return { section, cleanup: () => window.removeEventListener("aegntix:rights", syncRights) };
}

function renderAgentGrid(grid, list, highlight) {
  clear(grid);
  if (!list.length) {
    grid.append(h("div", { class: "agent-empty", "data-testid": "agent-empty" },
      h("strong", {}, "No persistent agents yet."),
      h("span", { class: "muted" }, " Create one, name it in a scenario (", h("code", {}, "profile: <id>"),
        "), run it, and keep the branch whose experience it should remember.")));
    return;
  }
  for (const p of list) {
    const threshold = num(p.persona?.stability_threshold, 0.8);
    const state = consistencyState(p.consistency, threshold);
    const card = h("a", {
      class: `agent-card card${p.id === highlight ? " fresh" : ""}`,
      href: `#/agents/${encodeURIComponent(p.id)}`,
      "data-testid": "agent-card",
      "data-profile": p.id,
    },
    h("div", { class: "agent-card-top" },
      agentAvatar(p.name),
      h("div", { class: "agent-card-title" },
        h("h3", { "data-testid": "agent-card-name" }, p.name),
        h("code", { class: "muted small" }, p.id)),
      h("span", { class: "chev", "aria-hidden": "true" }, "›")),
    p.description ? h("p", { class: "agent-card-desc", title: p.description }, p.description) : null,
    h("div", { class: "agent-card-stats" },
      h("span", { class: "mini-stat", "data-testid": "agent-card-version", "data-value": String(p.version) },
        h("strong", {}, `v${p.version}`), h("span", {}, "version")),
      h("span", { class: "mini-stat", "data-testid": "agent-card-lived", "data-value": String(p.lived_steps) },
        h("strong", {}, fmtNum(p.lived_steps)), h("span", {}, p.lived_steps === 1 ? "step lived" : "steps lived")),
      h("span", {
        class: `mini-stat cons-${state}`,
        "data-testid": "agent-card-consistency",
        "data-value": String(p.consistency),
        title: `consistency with the core persona: ${fmtScore(p.consistency)} (a drift below ${fmtScore(threshold)} is refused)`,
      }, h("strong", {}, fmtScore(p.consistency)), h("span", {}, "consistency"))),
    personaBars(p.persona || {}, p.traits || {}));
    grid.append(card);
    if (p.id === highlight) requestAnimationFrame(() => card.scrollIntoView({ block: "nearest" }));
  }
}

// ------------------------------------------------------------------------------------------
// dialogs: the new-agent form and a confirmation

let formDialog = null;
let confirmDialog = null;

function dialogEl(which) {
  if (which === "form") {
    if (!formDialog) {
      formDialog = h("dialog", { class: "dialog agent-dialog", "data-testid": "agent-dialog" });
      document.body.append(formDialog);
    }
    return formDialog;
  }
  if (!confirmDialog) {
    confirmDialog = h("dialog", { class: "dialog confirm-dialog", "data-testid": "confirm-dialog" });
    document.body.append(confirmDialog);
  }
  return confirmDialog;
}

/** Closes this module's dialogs (on navigation). */
export function closeAgentDialogs() {
  for (const d of [formDialog, confirmDialog]) if (d?.open) d.close();
}

/**
 * Shows an API error on a form: a 409 or field errors next to their inputs (data-field is the
 * field's path without "persona." and list indexes, or its last part), the rest in `box`.
 */
function placeProblem(form, box, err, { conflictField, conflictText } = {}) {
  clear(box);
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  for (const el of form.querySelectorAll(".invalid")) el.classList.remove("invalid");
  if (!err) {
    box.hidden = true;
    return;
  }
  const place = (field, text, extra = {}) => {
    const parts = String(field || "").split(/[.\/\[\]]/).filter(Boolean).filter((p) => !/^\d+$/.test(p));
    const names = [parts.join("."), parts.filter((p) => p !== "persona").join("."), parts[parts.length - 1]];
    const target = names.map((n) => n && form.querySelector(`[data-field="${CSS.escape(n)}"]`)).find(Boolean);
    if (!target) return false;
    target.classList.add("invalid");
    const last = parts[parts.length - 1] || "field";
    const message = h("div", { class: "field-error", role: "alert", "data-testid": `field-error-${last}`, ...extra }, text);
    // right under its input (above any hint); in a row of its own in a slider row
    const input = target.querySelector(":scope > input, :scope > textarea, :scope > .slider-row");
    if (input) input.after(message);
    else target.append(message);
    return true;
  };
  const status = err instanceof ApiError ? err.status : 0;
  if (status === 409 && conflictField && place(conflictField, conflictText || err.detail, { "data-status": "409", title: err.detail })) {
    box.hidden = true;
    form.querySelector(`[data-field="${conflictField}"] input`)?.focus();
    return;
  }
  if (status === 403) {
    box.append(h("strong", {}, "Your key is read-only here. "), h("span", {}, `The server says: ${err.detail}.`));
    box.hidden = false;
    return;
  }
  const errors = err instanceof ApiError ? err.errors : [];
  const unplaced = errors.filter((fe) => !place(fe.field, friendlyReason(fe, form), { title: fe.reason || "" }));
  box.append(h("strong", {}, errors.length && unplaced.length < errors.length ? "Please check the highlighted fields." : (err.detail || String(err.message || err))));
  if (unplaced.length) {
    box.append(h("ul", { class: "problem-list" }, unplaced.map((fe) => h("li", {}, h("code", {}, fe.field || "request"), " ", fe.reason || ""))));
  }
  box.hidden = false;
  const first = form.querySelector(".invalid input, .invalid textarea");
  if (first) first.focus();
}

/** The server's reason, in words where its own are a regular expression. */
function friendlyReason(fe, form) {
  const reason = String(fe.reason || "invalid");
  if (/should match pattern/.test(reason)) {
    const value = form.querySelector(`[data-field="${CSS.escape(String(fe.field))}"] input`)?.value || "";
    if (value && !/^[A-Za-z]/.test(value)) return `“${value}” is not a valid id: it must start with a letter.`;
    return "Not a valid id: only letters, digits, “-” and “_”, 64 at most.";
  }
  if (/at least 1 character/.test(reason)) return "Required.";
  return reason.replace(/^String /, "").replace(/^Input /, "").replace(/^\w/, (c) => c.toUpperCase());
}

function slider({ name, value, min = 0, max = 1, step = 0.01, testid }) {
  const input = h("input", { type: "range", min, max, step, value, name, id: `agent-${name}`, "data-testid": testid });
  const out = h("output", { class: "slider-out", for: `agent-${name}` }, Number(value).toFixed(2));
  input.addEventListener("input", () => {
    out.textContent = Number(input.value).toFixed(2);
  });
  return { input, out };
}

/**
 * The "New persistent agent" dialog: POST /v1/agents; field errors beside their fields, a
 * taken id (409) beside the id, a refusal (403) on top.
 * @param {{onCreated: (profile: object) => void}} opts
 */
export function openAgentForm(opts) {
  const dialog = dialogEl("form");
  clear(dialog);
  const id = h("input", { type: "text", name: "id", id: "agent-id", autocomplete: "off", spellcheck: "false", maxlength: 64, placeholder: "e.g. dana", "data-testid": "agent-id" });
  const name = h("input", { type: "text", name: "name", id: "agent-name", autocomplete: "off", maxlength: 200, placeholder: "e.g. Dana Whitfield", "data-testid": "agent-name" });
  const description = h("textarea", { name: "description", id: "agent-description", rows: 2, maxlength: 10000, placeholder: "Who they are, in a sentence (optional).", "data-testid": "agent-description" });
  const traits = BIG_FIVE.map((t) => {
    const { input, out } = slider({ name: t, value: 0.5, testid: `agent-trait-${t}` });
    const adaptive = h("input", { type: "checkbox", name: `adaptive-${t}`, checked: DEFAULT_ADAPTIVE.includes(t), "data-testid": `agent-adaptive-${t}` });
    const row = h("div", { class: "trait-input", "data-field": t },
      h("label", { class: "trait-input-name", for: `agent-${t}` }, h("span", {}, t), h("small", {}, `${POLES[t][0]} ↔ ${POLES[t][1]}`)),
      input, out,
      h("label", { class: "check adaptive-check", title: "An adaptive trait drifts with what the agent lives through" }, adaptive, "adaptive"));
    return { t, input, adaptive, row };
  });
  const rate = slider({ name: "adaptation_rate", value: 0.1, max: 0.5, testid: "agent-adaptation-rate" });
  const threshold = slider({ name: "stability_threshold", value: 0.8, testid: "agent-stability-threshold" });
  const problem = h("div", { class: "problem", hidden: true, role: "alert", "data-testid": "agent-form-error" });
  const submit = h("button", { class: "btn btn-primary", type: "submit", "data-testid": "agent-submit" }, "Create agent");
  const cancel = h("button", { class: "btn btn-ghost", type: "button", "data-testid": "agent-cancel" }, "Cancel");
  const form = h("form", { class: "dialog-form agent-form", method: "dialog", novalidate: true, "data-testid": "agent-form" },
    h("header", { class: "dialog-head" },
      h("div", {},
        h("h2", {}, "New persistent agent"),
        h("p", { class: "muted" }, "A persona that carries over: name it in a scenario's agent as ", h("code", {}, "profile: <id>"), ", and keep a branch to give it that experience.")),
      h("button", { class: "icon-btn", type: "button", "aria-label": "Close", onclick: () => dialog.close() }, "×")),
    problem,
    h("div", { class: "form-row" },
      h("div", { class: "field", "data-field": "id" }, h("label", { for: "agent-id" }, "Id"), id,
        h("p", { class: "hint" }, "A letter, then letters, digits, “-” or “_”. Never reused, even after a delete.")),
      h("div", { class: "field", "data-field": "name" }, h("label", { for: "agent-name" }, "Name"), name)),
    h("div", { class: "field", "data-field": "description" }, h("label", { for: "agent-description" }, "Description"), description),
    h("fieldset", { class: "field persona-field", "data-field": "persona" },
      h("legend", {}, "Core persona", h("span", { class: "muted legend-sub" }, "the Big Five, 0 to 1; adaptive traits drift with experience")),
      h("div", { class: "trait-inputs", "data-field": "adaptive" }, traits.map((x) => x.row))),
    h("div", { class: "form-row" },
      h("div", { class: "field", "data-field": "adaptation_rate" },
        h("label", { for: "agent-adaptation_rate" }, "Adaptation rate"),
        h("div", { class: "slider-row" }, rate.input, rate.out),
        h("p", { class: "hint" }, "How far a trait may move at one reflection.")),
      h("div", { class: "field", "data-field": "stability_threshold" },
        h("label", { for: "agent-stability_threshold" }, "Stability threshold"),
        h("div", { class: "slider-row" }, threshold.input, threshold.out),
        h("p", { class: "hint" }, "A drift that would take consistency (1 − mean |now − core|) below this is refused."))),
    h("footer", { class: "dialog-foot" }, h("div", { class: "dialog-actions" }, cancel, submit)));
  cancel.addEventListener("click", () => dialog.close());
  const syncRights = () => {
    submit.disabled = !setDenied(submit, "write", deniedReason("write"));
  };
  syncRights();

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const persona = {
      adaptive: traits.filter((x) => x.adaptive.checked).map((x) => x.t),
      adaptation_rate: Number(rate.input.value),
      stability_threshold: Number(threshold.input.value),
    };
    for (const x of traits) persona[x.t] = Number(x.input.value);
    const body = { id: id.value.trim(), name: name.value.trim(), description: description.value.trim(), persona };
    submit.disabled = true;
    submit.classList.add("busy");
    try {
      const profile = await api.createAgent(body);
      dialog.close();
      opts.onCreated(profile);
    } catch (err) {
      placeProblem(form, problem, err, {
        conflictField: "id",
        conflictText: `“${body.id}” is taken: an id is never reused, even after its agent is deleted. Pick another.`,
      });
    } finally {
      submit.classList.remove("busy");
      syncRights();
    }
  });
  dialog.append(form);
  dialog.showModal();
  id.focus();
}

/** A confirmation dialog; resolves true when confirmed. */
function confirmAction({ title, body, confirm, danger = true }) {
  const dialog = dialogEl("confirm");
  clear(dialog);
  return new Promise((resolve) => {
    let answer = false;
    const ok = h("button", { class: `btn ${danger ? "btn-danger" : "btn-primary"}`, type: "button", "data-testid": "confirm-ok" }, confirm);
    const no = h("button", { class: "btn btn-ghost", type: "button", "data-testid": "confirm-cancel" }, "Cancel");
    ok.addEventListener("click", () => {
      answer = true;
      dialog.close();
    });
    no.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => resolve(answer), { once: true });
    dialog.append(h("div", { class: "dialog-form confirm-form" },
      h("h2", {}, title), h("div", { class: "confirm-body" }, body),
      h("footer", { class: "dialog-foot" }, h("div", { class: "dialog-actions" }, no, ok))));
    dialog.showModal();
    no.focus();
  });
}

// ------------------------------------------------------------------------------------------
// charts: a trait (or the consistency) over versions

function versionChart({ points, ref, refLabel, refKind = "core", color, title, testid, trait }) {
  const W = 260;
  const H = 116;
  const m = { l: 34, r: 12, t: 10, b: 22 };
  const values = points.map((p) => p.value);
  let lo = Math.min(ref, ...values);
  let hi = Math.max(ref, ...values);
  const span = Math.max(hi - lo, 0.1);
  lo = Math.max(0, lo - span * 0.3);
  hi = Math.min(1, hi + span * 0.3);
  const ticks = niceTicks(lo, hi, 2).filter((t) => t >= -1e-9 && t <= 1 + 1e-9);
  const yLo = Math.min(lo, ticks[0]);
  const yHi = Math.max(hi, ticks[ticks.length - 1]);
  const n = points.length;
  const x = (i) => (n <= 1 ? (m.l + W - m.r) / 2 : m.l + 8 + (i / (n - 1)) * (W - m.l - m.r - 16));
  const y = (v) => H - m.b - ((v - yLo) / (yHi - yLo || 1)) * (H - m.t - m.b);
  const svg = s("svg", { class: "chart vchart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, "data-testid": testid, "data-trait": trait || "" });
  const grid = s("g", { class: "chart-gridlines" });
  for (const t of ticks) {
    grid.append(s("line", { x1: m.l, x2: W - m.r, y1: y(t), y2: y(t) }));
    grid.append(s("text", { x: m.l - 6, y: y(t) + 4, class: "chart-ylabel", "text-anchor": "end" }, fmtNum(t, { digits: 2 })));
  }
  svg.append(grid);
  if (refKind === "threshold") {
    svg.append(s("rect", { x: m.l, y: y(ref), width: W - m.l - m.r, height: Math.max(0, H - m.b - y(ref)), class: "vchart-refused" }));
  }
  svg.append(s("line", { x1: m.l, x2: W - m.r, y1: y(ref), y2: y(ref), class: `vchart-ref vchart-${refKind}` }));
  // the label at the right end of its line, unless the newest point sits there: then left of it
  const lastY = n ? y(points[n - 1].value) : Infinity;
  const crowded = n > 1 && lastY > y(ref) - 16 && lastY < y(ref) + 6;
  svg.append(s("text", {
    x: crowded ? x(n - 1) - 9 : W - m.r,
    y: y(ref) - 4,
    "text-anchor": "end",
    class: `vchart-ref-label vchart-${refKind}`,
  }, refLabel));
  const every = Math.ceil(n / 8);
  const axis = s("g", { class: "chart-xaxis" });
  points.forEach((p, i) => {
    if (i % every === 0 || i === n - 1) axis.append(s("text", { x: x(i), y: H - m.b + 15, "text-anchor": "middle" }, `v${p.version}`));
  });
  axis.append(s("line", { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, class: "chart-baseline" }));
  svg.append(axis);
  if (n > 1) {
    const d = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join("");
    svg.append(s("path", { d, class: "chart-line", stroke: color }));
  }
  points.forEach((p, i) => {
    svg.append(s("circle", {
      cx: x(i), cy: y(p.value), r: i === n - 1 ? 4 : 3,
      class: `vchart-point${i === n - 1 ? " last" : ""}`,
      stroke: color, fill: i === n - 1 ? color : "#fff",
      "data-testid": "trait-point", "data-version": String(p.version), "data-value": String(p.value),
    }, s("title", {}, `v${p.version}: ${fmtScore(p.value)}`)));
  });
  return svg;
}

// ------------------------------------------------------------------------------------------
// the profile view

/**
 * #/agents/<id>
 * @param {HTMLElement} view
 * @param {string} profileId
 * @param {{alive: () => boolean, navigate: (hash: string) => void, setCrumbs: Function,
 *          cleanup: Function[], onError: (err: Error, what: string) => void}} ctx
 */
export async function showProfile(view, profileId, ctx) {
  ctx.setCrumbs({ text: "Sandboxes", href: "#/" }, { text: "Persistent agents", href: "#/agents" }, { text: profileId });
  clear(view).append(h("div", { class: "loading page-loading" }, h("span", { class: "spinner" }), "Opening persistent agent…"));
  let detail;
  try {
    detail = await api.agent(profileId);
  } catch (err) {
    if (!ctx.alive()) return;
    const gone = err instanceof ApiError && err.status === 404;
    clear(view).append(h("div", { class: "center-page" }, h("div", { class: "card empty-card", "data-testid": "profile-missing" },
      h("h1", {}, gone ? "No such persistent agent" : "Cannot open this agent"),
      h("p", { class: "muted" }, gone ? `There is no persistent agent “${profileId}” (or it was deleted).` : err.message),
      h("a", { class: "btn", href: "#/agents" }, "All persistent agents"))));
    return;
  }
  if (!ctx.alive()) return;
  const p = detail;
  const persona = p.persona || {};
  const threshold = num(persona.stability_threshold, 0.8);
  const adaptive = BIG_FIVE.filter((t) => (persona.adaptive || []).includes(t));
  const versions = [...(p.versions || [])].sort((a, b) => a.version - b.version);
  const history = p.history || [];
  // branch id -> {label, status, scenario name}
  const branches = new Map();
  for (const part of history) {
    for (const b of part.branches || []) branches.set(b.id, { ...b, scenario: part.scenario, scenario_id: part.scenario_id });
  }
  const branchName = (id) => branches.get(id)?.label || shortId(id);
  const scenarioName = (scenarioId) => history.find((x) => x.scenario_id === scenarioId)?.scenario || shortId(scenarioId);
  ctx.setCrumbs({ text: "Sandboxes", href: "#/" }, { text: "Persistent agents", href: "#/agents" }, { text: p.name });

  // --- header
  const nameEl = h("h1", { "data-testid": "profile-name" }, p.name);
  const descEl = h("p", { class: "profile-desc", "data-testid": "profile-description" }, p.description || "");
  const showDesc = () => {
    descEl.textContent = p.description || "No description.";
    descEl.classList.toggle("muted", !p.description);
  };
  showDesc();
  const renameBtn = h("button", { class: "btn btn-small", type: "button", "data-testid": "profile-rename" }, "✎ Rename");
  const deleteBtn = h("button", { class: "btn btn-small btn-danger-ghost", type: "button", "data-testid": "profile-delete" }, "Delete");
  const readonly = h("p", { class: "readonly-note", hidden: true, "data-testid": "profile-readonly" });
  // what the key may do (GET /v1/me; a later 403 updates it): rename needs write, delete delete
  const syncRights = () => {
    const noWrite = deniedReason("write");
    const noDelete = deniedReason("delete");
    renameBtn.disabled = !setDenied(renameBtn, "write", noWrite, "Change the name or description");
    deleteBtn.disabled = !setDenied(deleteBtn, "delete", noDelete, "Delete this agent (its id is never reused)");
    readonly.hidden = !noWrite;
    clear(readonly);
    if (noWrite) readonly.append(h("strong", {}, "Read-only. "), `${sentence(noWrite)}: you can look, not rename or delete.`);
  };
  window.addEventListener("aegntix:rights", syncRights);
  ctx.cleanup.push(() => window.removeEventListener("aegntix:rights", syncRights));
  syncRights();

  const identity = h("div", { class: "profile-identity" },
    h("div", { class: "profile-title" }, nameEl, h("span", { class: "persist-badge" }, h("span", { class: "persist-dot", "aria-hidden": "true" }), "persistent agent")),
    h("code", { class: "muted small", "data-testid": "profile-id" }, p.id),
    descEl);
  const editBox = h("div", { class: "profile-edit-box", hidden: true });
  const actions = h("div", { class: "profile-actions" }, renameBtn, deleteBtn);

  const cState = consistencyState(p.consistency, threshold);
  const gauge = h("span", { class: `cgauge cons-${cState}`, "aria-hidden": "true" },
    h("span", { class: "cgauge-fill", style: { width: `${Math.max(0, Math.min(1, p.consistency)) * 100}%` } }),
    h("span", { class: "cgauge-threshold", style: { left: `${threshold * 100}%` } }));
  const stats = h("div", { class: "profile-stats" },
    h("div", { class: "pstat", "data-testid": "profile-version", "data-value": String(p.version) },
      h("span", { class: "pstat-k" }, "version"), h("span", { class: "pstat-v" }, `v${p.version}`),
      h("span", { class: "pstat-s" }, `${versions.length - 1} kept ${versions.length === 2 ? "branch" : "branches"}`)),
    h("div", { class: "pstat", "data-testid": "profile-lived", "data-value": String(p.lived_steps) },
      h("span", { class: "pstat-k" }, "lived"), h("span", { class: "pstat-v" }, fmtNum(p.lived_steps)),
      h("span", { class: "pstat-s" }, `${p.lived_steps === 1 ? "step" : "steps"} in ${history.length} ${history.length === 1 ? "scenario" : "scenarios"}`)),
    h("div", {
      class: `pstat pstat-wide cons-${cState}`,
      "data-testid": "profile-consistency",
      "data-value": String(p.consistency),
      "data-threshold": String(threshold),
      title: "consistency = 1 − mean |current − core| over the Big Five; a drift that would take it below the stability threshold is refused",
    },
    h("span", { class: "pstat-k" }, "consistency"),
    h("span", { class: "pstat-v" }, fmtScore(p.consistency), gauge),
    h("span", { class: "pstat-s", "data-testid": "profile-threshold" }, `stability threshold ${fmtScore(threshold)}`)),
    h("div", { class: "pstat" },
      h("span", { class: "pstat-k" }, "adaptation"), h("span", { class: "pstat-v" }, fmtScore(num(persona.adaptation_rate, 0.1))),
      h("span", { class: "pstat-s" }, "at most, per reflection")));
  const header = h("section", { class: "card profile-head", "data-testid": "profile-header" },
    h("div", { class: "profile-head-top" }, agentAvatar(p.name, "avatar-lg"), identity, editBox, actions),
    readonly,
    stats);

  renameBtn.addEventListener("click", () => {
    const nameIn = h("input", { type: "text", value: p.name, maxlength: 200, "data-testid": "profile-edit-name", id: "profile-edit-name" });
    const descIn = h("textarea", { rows: 2, maxlength: 10000, "data-testid": "profile-edit-description", id: "profile-edit-description" });
    descIn.value = p.description || "";
    const problem = h("div", { class: "problem", hidden: true, role: "alert", "data-testid": "profile-edit-error" });
    const save = h("button", { class: "btn btn-primary btn-small", type: "submit", "data-testid": "profile-edit-save" }, "Save");
    const cancel = h("button", { class: "btn btn-ghost btn-small", type: "button", "data-testid": "profile-edit-cancel" }, "Cancel");
    const form = h("form", { class: "profile-edit", novalidate: true, "data-testid": "profile-edit" },
      problem,
      h("div", { class: "field", "data-field": "name" }, h("label", { for: "profile-edit-name" }, "Name"), nameIn),
      h("div", { class: "field", "data-field": "description" }, h("label", { for: "profile-edit-description" }, "Description"), descIn),
      h("div", { class: "dialog-actions" }, cancel, save));
    const close = () => {
      editBox.hidden = true;
      identity.hidden = false;
      actions.hidden = false;
      clear(editBox);
    };
    cancel.addEventListener("click", close);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      save.disabled = true;
      save.classList.add("busy");
      try {
        const updated = await api.updateAgent(p.id, { name: nameIn.value.trim(), description: descIn.value.trim() });
        if (!ctx.alive()) return;
        p.name = updated.name;
        p.description = updated.description;
        nameEl.textContent = p.name;
        showDesc();
        ctx.setCrumbs({ text: "Sandboxes", href: "#/" }, { text: "Persistent agents", href: "#/agents" }, { text: p.name });
        close();
        toast("Saved", { detail: `“${p.name}”` });
      } catch (err) {
        if (!ctx.alive()) return;
        placeProblem(form, problem, err);
        if (err instanceof ApiError && err.status === 403) {
          save.disabled = true;
          return;
        }
      } finally {
        save.classList.remove("busy");
      }
      save.disabled = false;
    });
    clear(editBox).append(form);
    identity.hidden = true;
    actions.hidden = true;
    editBox.hidden = false;
    nameIn.focus();
    nameIn.select();
  });

  deleteBtn.addEventListener("click", async () => {
    const ok = await confirmAction({
      title: `Delete “${p.name}”?`,
      body: [
        h("p", {}, "Scenarios that used this agent keep replaying exactly as before, but no new scenario can name it."),
        h("p", { class: "muted" }, "Its id ", h("code", {}, p.id), " can never be used again."),
      ],
      confirm: "Delete agent",
    });
    if (!ok || !ctx.alive()) return;
    deleteBtn.disabled = true;
    try {
      await api.deleteAgent(p.id);
      toast(`Deleted “${p.name}”`, { carry: true });
      ctx.navigate("#/agents");
    } catch (err) {
      if (!ctx.alive()) return;
      if (err instanceof ApiError && err.status === 403) syncRights();
      else {
        deleteBtn.disabled = false;
        ctx.onError(err, "Could not delete the agent");
      }
    }
  });

  // --- persona and its course over versions
  const free = Object.entries(persona.traits || {});
  const personaPanel = h("section", { class: "panel persona-panel", "data-testid": "profile-persona" },
    h("div", { class: "panel-head" }, h("h2", {}, "Persona"), barsLegend()),
    personaBars(persona, p.traits || {}, { detailed: true }),
    h("p", { class: "muted small persona-note" },
      adaptive.length
        ? `Adaptive: ${adaptive.join(", ")} — each moves at most ${fmtScore(num(persona.adaptation_rate, 0.1))} per reflection. The others stay at their core.`
        : "No adaptive traits: this persona never drifts."),
    free.length ? h("div", { class: "free-traits" }, free.map(([k, v]) => h("span", { class: "chip" }, h("span", { class: "chip-k" }, k), h("span", { class: "chip-v" }, String(v))))) : null);

  const series = (fn) => versions.map((v) => ({ version: v.version, value: fn(v) }));
  const charts = h("div", { class: "vcharts" },
    adaptive.map((t) => {
      const pts = series((v) => num(v.traits?.[t], num(persona[t])));
      const first = pts[0]?.value;
      const last = pts[pts.length - 1]?.value;
      return h("figure", { class: "vchart-card", "data-testid": "trait-chart-card", "data-trait": t },
        h("figcaption", {}, h("span", { class: "dot", style: { background: TRAIT_COLORS[t] } }), h("strong", {}, t),
          h("span", { class: "muted small vchart-sum" }, pts.length > 1 && Math.abs(last - first) >= DRIFT_SHOWN ? `${fmtScore(first)} → ${fmtScore(last)}` : fmtScore(last))),
        versionChart({ points: pts, ref: num(persona[t]), refLabel: "core", color: TRAIT_COLORS[t], title: `${t} over versions`, testid: "trait-chart", trait: t }));
    }),
    h("figure", { class: "vchart-card", "data-testid": "consistency-chart-card" },
      h("figcaption", {}, h("span", { class: "dot", style: { background: "#697186" } }), h("strong", {}, "consistency"),
        h("span", { class: "muted small vchart-sum" }, `refused below ${fmtScore(threshold)}`)),
      versionChart({ points: series((v) => consistencyOf(v.traits, persona)), ref: threshold, refLabel: "threshold", refKind: "threshold", color: "#4a5372", title: "consistency over versions", testid: "consistency-chart" })));
  const coursePanel = h("section", { class: "panel course-panel", "data-testid": "profile-course" },
    h("div", { class: "panel-head" }, h("h2", {}, "Across versions"),
      h("span", { class: "muted small" }, versions.length > 1 ? "a point per version" : "a point per version: each kept branch adds one")),
    charts);

  // --- versions
  const versionsList = h("ol", { class: "version-list", "data-testid": "versions" }, versions.map((v, i) => {
    const prev = versions[i - 1];
    const moves = prev
      ? BIG_FIVE.map((t) => [t, num(v.traits?.[t]) - num(prev.traits?.[t])]).filter(([, d]) => Math.abs(d) >= DRIFT_SHOWN)
      : [];
    const current = v.version === p.version;
    return h("li", {
      class: `version-row${current ? " current" : ""}`,
      "data-testid": "version-row",
      "data-version": String(v.version),
      "data-branch": v.branch_id || "",
      "data-memories": String(v.memories),
    },
    h("span", { class: "version-badge" }, `v${v.version}`),
    h("div", { class: "version-main" },
      v.branch_id
        ? h("div", { class: "version-what" }, "Kept ",
          h("a", { href: `#/b/${encodeURIComponent(v.branch_id)}`, class: "branch-link", "data-testid": "version-branch" }, branchName(v.branch_id)),
          " of ", h("span", { class: "version-scenario" }, scenarioName(v.scenario_id)))
        : h("div", { class: "version-what" }, "Created", h("span", { class: "muted" }, " · the core persona")),
      h("div", { class: "version-meta" },
        v.agent_id ? h("span", {}, `as ${v.agent_id}`) : null,
        h("span", { "data-testid": "version-memories" }, `${fmtNum(v.memories)} ${v.memories === 1 ? "memory" : "memories"} kept`),
        h("span", {}, `${fmtNum(v.lived_steps)} steps lived${prev && v.lived_steps > prev.lived_steps ? ` (+${fmtNum(v.lived_steps - prev.lived_steps)})` : ""}`),
        v.created_at ? h("span", { title: v.created_at }, timeAgo(v.created_at)) : null),
      moves.length
        ? h("div", { class: "version-moves" }, moves.map(([t, d]) => h("span", { class: `move ${d > 0 ? "up" : "down"}` }, `${t} ${fmtDelta(d)}`)))
        : null),
    current ? h("span", { class: "current-tag" }, "current") : null);
  }));
  const versionsPanel = h("section", { class: "panel", "data-testid": "profile-versions" },
    h("div", { class: "panel-head" }, h("h2", {}, "Versions"), h("span", { class: "muted small" }, "each kept branch is a version; append-only")),
    versionsList);

  // --- history
  const historyPanel = h("section", { class: "panel", "data-testid": "profile-history" },
    h("div", { class: "panel-head" }, h("h2", {}, "History"), h("span", { class: "muted small" }, `${history.length} ${history.length === 1 ? "scenario" : "scenarios"}`)),
    history.length
      ? h("ol", { class: "history-list", "data-testid": "history" }, history.map((part) => {
        const keptVersion = versions.find((v) => v.branch_id && v.branch_id === part.kept_branch)?.version;
        return h("li", { class: "history-row", "data-testid": "history-row", "data-scenario": part.scenario_id, "data-kept-branch": part.kept_branch || "" },
          h("div", { class: "history-head" },
            h("strong", { class: "history-name", "data-testid": "history-scenario" }, part.scenario),
            h("span", { class: "muted small" }, `as ${part.agent_id} · started from v${part.version}`)),
          h("ul", { class: "history-branches" }, (part.branches || []).map((b) => {
            const kept = b.id === part.kept_branch;
            return h("li", {}, h("a", {
              class: `hbranch${kept ? " kept" : ""}`,
              href: `#/b/${encodeURIComponent(b.id)}`,
              "data-testid": "history-branch",
              "data-branch": b.id,
              "data-kept": String(kept),
              title: `${b.label || shortId(b.id)}: ${b.status}, step ${b.head_step}${kept ? " — its experience was kept" : ""}`,
            },
            h("span", { class: `hb-dot st-${b.status}`, "aria-hidden": "true" }),
            h("span", { class: "hb-label" }, b.label || shortId(b.id)),
            h("span", { class: "hb-meta" }, `${b.status} · step ${b.head_step}`),
            kept ? h("span", { class: "hb-kept" }, `✓ kept${isNumber(keptVersion) ? ` · v${keptVersion}` : ""}`) : null));
          })),
          part.kept_branch ? null : h("p", { class: "muted small history-none" }, "No branch kept yet: open one and press “Keep this branch's experience”."));
      }))
      : h("p", { class: "muted small" }, "It has not taken part in a scenario yet. Name it in one with ", h("code", {}, `profile: ${p.id}`), "."));

  // --- memories
  const memoriesPanel = h("section", { class: "panel memories-panel", "data-testid": "profile-memories" });
  const memories = profileMemories(memoriesPanel, { profile: p, versions, branchName, alive: ctx.alive });

  clear(view).append(h("div", { class: "profile-page", "data-testid": "profile-view", "data-profile": p.id },
    header,
    h("div", { class: "profile-grid" }, personaPanel, coursePanel),
    h("div", { class: "profile-grid" }, versionsPanel, historyPanel),
    memoriesPanel));
  memories.load();
}

/**
 * The memories panel: the profile's committed memories, newest first, a page at a time
 * (GET /v1/agents/{id}/memories answers oldest first: the page is fetched by offset).
 */
function profileMemories(panel, { profile, versions, branchName, alive }) {
  const withMemories = versions.filter((v) => v.memories > 0);
  // where each version's memories start in the oldest-first list
  const base = new Map();
  let at = 0;
  for (const v of versions) {
    base.set(v.version, at);
    at += v.memories;
  }
  const livedBefore = new Map(versions.map((v, i) => [v.version, i ? versions[i - 1].lived_steps : 0]));
  const st = { page: 0, only: null, total: at, cache: new Map() };
  const select = h("select", { class: "select select-small", "aria-label": "Which version's memories", "data-testid": "memories-version" },
    h("option", { value: "" }, "all versions"),
    [...withMemories].reverse().map((v) => h("option", { value: String(v.version) }, `v${v.version} · ${v.memories}`)));
  const totalEl = h("span", { class: "muted small", "data-testid": "memories-total", "data-value": String(st.total) });
  const list = h("ol", { class: "pmem-list", "data-testid": "profile-memory-list" });
  const newer = h("button", { class: "btn btn-small", type: "button", "data-testid": "memories-newer" }, "‹ Newer");
  const older = h("button", { class: "btn btn-small", type: "button", "data-testid": "memories-older" }, "Older ›");
  const range = h("span", { class: "pager-range", "data-testid": "memories-range" });
  const pager = h("div", { class: "pager", "data-testid": "memories-pager" }, newer, range, older);
  panel.append(
    h("div", { class: "panel-head" }, h("h2", {}, "Memories"), totalEl, withMemories.length > 1 ? select : null),
    list, pager);

  const span = () => {
    if (st.only === null) return { start: 0, count: st.total };
    const v = versions.find((x) => x.version === st.only);
    return { start: base.get(st.only) || 0, count: v ? v.memories : 0 };
  };
  const parseRef = (ref) => {
    const m = /^p(\d+)\.(\d+)$/.exec(String(ref));
    return m ? { version: Number(m[1]), index: Number(m[2]) } : null;
  };

  let asked = 0;
  const load = async () => {
    const mine = ++asked;
    const { start, count } = span();
    const pages = Math.max(1, Math.ceil(count / MEMORY_PAGE));
    st.page = Math.min(st.page, pages - 1);
    const end = count - st.page * MEMORY_PAGE; // exclusive, within the span
    const from = Math.max(0, end - MEMORY_PAGE);
    totalEl.textContent = `${fmtNum(st.total)} kept${st.total ? " · newest first" : ""}`;
    totalEl.dataset.value = String(st.total);
    newer.disabled = st.page === 0;
    older.disabled = st.page >= pages - 1;
    range.textContent = count ? `${fmtNum(st.page * MEMORY_PAGE + 1)}–${fmtNum(end - from + st.page * MEMORY_PAGE)} of ${fmtNum(count)}` : "";
    pager.hidden = count <= MEMORY_PAGE;
    if (!count) {
      clear(list).append(h("li", { class: "pmem-empty muted", "data-testid": "memories-empty" },
        "No memories yet. They come with a kept branch: open a branch this agent took part in and keep its experience."));
      list.dataset.state = "ready";
      return;
    }
    list.dataset.state = "loading";
    list.classList.add("loading-list");
    try {
      const res = await api.agentMemories(profile.id, { offset: start + from, limit: end - from });
      if (mine !== asked || !alive()) return;
      if (st.only === null && isNumber(res.total) && res.total !== st.total) {
        st.total = res.total; // it kept more since the page opened
        load();
        return;
      }
      const page = res.memories || [];
      page.forEach((m, i) => st.cache.set(m.ref, { ...m, offset: start + from + i }));
      renderPage([...page].reverse());
      list.dataset.state = "ready";
      list.dataset.page = String(st.page);
    } catch (err) {
      if (mine !== asked || !alive()) return;
      clear(list).append(h("li", { class: "pmem-empty why-error" }, `Could not load the memories: ${err.message}`));
      list.dataset.state = "error";
    } finally {
      list.classList.remove("loading-list");
    }
  };

  const renderPage = (page) => {
    clear(list);
    const missing = new Set();
    for (const m of page) {
      const where = parseRef(m.ref);
      const [, branchId] = String(m.origin || "").split("/");
      const step = where && isNumber(m.time) ? m.time - (livedBefore.get(where.version) || 0) : null;
      const cites = Array.isArray(m.cites) ? m.cites : [];
      for (const c of cites) if (!st.cache.has(c)) missing.add(c);
      const importance = isNumber(m.importance) ? m.importance : null;
      list.append(h("li", {
        class: `pmem kind-${String(m.kind || "memory").replace(/[^a-z-]/g, "")}`,
        "data-testid": "profile-memory",
        "data-ref": m.ref,
        "data-kind": m.kind || "",
        "data-importance": importance === null ? "" : String(importance),
      },
      h("span", {
        class: "pmem-imp",
        title: importance === null ? "" : `importance ${fmtNum(importance)} of 10`,
        style: { "--imp": String(importance === null ? 0 : Math.max(0, Math.min(10, importance)) / 10) },
      }, importance === null ? "–" : fmtNum(importance, { digits: 1 })),
      h("div", { class: "pmem-body" },
        h("div", { class: "pmem-text", "data-testid": "profile-memory-text" }, m.text || ""),
        h("div", { class: "why-meta pmem-meta" },
          h("span", { class: `tier tier-${String(m.tier || "long-term").replace(/[^a-z-]/g, "")}`, "data-testid": "profile-memory-tier" }, m.tier || "long-term"),
          h("span", { class: "pmem-kind", "data-testid": "profile-memory-kind" }, m.kind || "memory"),
          importance !== null ? h("span", {}, `importance ${fmtNum(importance)}`) : null,
          where ? h("span", {}, `v${where.version}`) : null,
          branchId
            ? h("span", {}, isNumber(step) ? `step ${fmtNum(step)} of ` : "from ",
              h("a", { href: `#/b/${encodeURIComponent(branchId)}`, class: "branch-link" }, branchName(branchId)))
            : null,
          h("code", { class: "pmem-ref" }, m.ref)),
        cites.length
          ? h("div", { class: "pmem-cites" },
            h("span", { class: "pmem-cites-k" }, m.kind === "reflection" ? "rests on" : "cites"),
            h("ul", {}, cites.map((c) => h("li", { "data-testid": "profile-memory-cite", "data-ref": c },
              h("code", { class: "pmem-ref" }, c), h("span", { class: "pmem-cite-text" }, st.cache.get(c)?.text || "…")))))
          : null)));
    }
    if (missing.size) resolveCites(missing);
  };

  // Cited memories that are not on this page: fetched by their place in the oldest-first list.
  const resolveCites = async (refs) => {
    const offsets = [...refs].map((r) => {
      const where = parseRef(r);
      return where && base.has(where.version) ? base.get(where.version) + where.index : null;
    }).filter(isNumber);
    if (!offsets.length) return;
    const lo = Math.min(...offsets);
    const hi = Math.max(...offsets);
    try {
      const res = await api.agentMemories(profile.id, { offset: lo, limit: Math.min(hi - lo + 1, 1000) });
      if (!alive()) return;
      (res.memories || []).forEach((m, i) => st.cache.set(m.ref, { ...m, offset: lo + i }));
    } catch {
      return; // the refs stay as they are
    }
    for (const li of list.querySelectorAll("[data-testid=profile-memory-cite]")) {
      const found = st.cache.get(li.dataset.ref);
      if (found) li.querySelector(".pmem-cite-text").textContent = found.text;
    }
  };

  newer.addEventListener("click", () => {
    st.page = Math.max(0, st.page - 1);
    load();
  });
  older.addEventListener("click", () => {
    st.page += 1;
    load();
  });
  select.addEventListener("change", () => {
    st.only = select.value === "" ? null : Number(select.value);
    st.page = 0;
    load();
  });
  return { load };
}
