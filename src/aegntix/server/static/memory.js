// Memory, made visible: "why?" beside an agent's message or action (the memories it recalled
// when it decided, from GET /v1/branches/{id}/events/{seq}/why), quiet lines for reflections and
// persona drift (the `memory` events), and persistent agents (a badge, and keeping a branch's
// experience with POST /v1/branches/{id}/commit).

import { api, ApiError } from "./api.js";
import { h, s, clear, initials, isNumber, setDenied } from "./dom.js";

/** Whether agents form and recall memories in this scenario (as the server decides it). */
export function memoryOn(spec) {
  const enabled = spec?.memory?.enabled;
  if (enabled === true || enabled === false) return enabled;
  return persistentAgents(spec).length > 0;
}

/** The scenario's agents that are persistent agents (they name a profile). */
export function persistentAgents(spec) {
  return (spec?.agents || []).filter((a) => a?.profile && a.profile.id);
}

/** The highest score a memory can get: each part is at most its weight. */
export function maxScore(spec) {
  const w = spec?.memory?.weights || {};
  const part = (v) => (isNumber(v) && v >= 0 ? v : 1);
  return part(w.recency) + part(w.importance) + part(w.relevance) || 1;
}

/** Options for a Transcript of `branchId`: null when memory is off. */
export function memoryOptions(spec, branchId) {
  return memoryOn(spec) ? { branchId, scale: maxScore(spec) } : null;
}

/** A trait or score for people: two decimals, three when the third one matters. */
export function fmtScore(v) {
  if (!isNumber(v)) return "—";
  const three = v.toFixed(3);
  return three.endsWith("0") ? v.toFixed(2) : three;
}

const PARTS = [
  ["recency", "recent"],
  ["importance", "important"],
  ["relevance", "relevant"],
];

// ------------------------------------------------------------------------------------------
// why?

const whyCache = new Map(); // "<branch>:<seq>" -> Promise of the why answer (never changes)

/** The why answer for an event, fetched once per branch and seq (a failure is not kept). */
export function loadWhy(branchId, seq) {
  const key = `${branchId}:${seq}`;
  let found = whyCache.get(key);
  if (!found) {
    found = api.why(branchId, seq);
    whyCache.set(key, found);
    found.catch(() => whyCache.delete(key));
  }
  return found;
}

/**
 * The "why?" toggle of a message or action and its (lazy) inline panel.
 * @param {object} e  the event
 * @param {{branchId: string, scale: number}} memory
 * @param {Map<string, object>} agents
 */
export function whyControl(e, memory, agents) {
  const panel = h("div", { class: "why-panel", hidden: true, "data-testid": "why-panel", "data-seq": e.seq });
  const button = h("button", {
    class: "why-btn",
    type: "button",
    "data-testid": "why-toggle",
    "data-seq": e.seq,
    "aria-expanded": "false",
    title: "Which memories did the agent recall when it decided this?",
  }, "why?");
  let loaded = false;
  button.addEventListener("click", async () => {
    const open = panel.hidden;
    panel.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    button.classList.toggle("open", open);
    if (!open || loaded) return;
    loaded = true;
    panel.dataset.state = "loading";
    clear(panel).append(h("div", { class: "why-loading" }, h("span", { class: "spinner" }), "Remembering…"));
    try {
      const data = await loadWhy(memory.branchId, e.seq);
      renderWhy(panel, data, { agents, scale: memory.scale });
      panel.dataset.state = "ready";
    } catch (err) {
      loaded = false; // try again on the next click
      const detail = err instanceof ApiError ? err.detail : String(err?.message || err);
      clear(panel).append(h("p", { class: "why-error", "data-testid": "why-error" }, detail));
      panel.dataset.state = "error";
    }
  });
  return { button, panel };
}

function tierBadge(tier) {
  const t = String(tier || "episodic");
  const titles = {
    "long-term": "kept from an earlier scenario (a persistent agent's experience)",
    semantic: "a reflection: an insight distilled from other memories",
    episodic: "something seen, heard or done in this scenario",
  };
  return h("span", { class: `tier tier-${t.replace(/[^a-z-]/g, "")}`, "data-testid": "why-tier", title: titles[t] || t }, t);
}

/** A small stacked bar: the score split into recency, importance and relevance. */
export function scoreBar(r, scale) {
  const parts = PARTS.map(([k]) => [k, isNumber(r[k]) ? r[k] : 0]);
  const title = `score ${fmtScore(r.score)} = ${parts.map(([k, v]) => `${k} ${fmtScore(v)}`).join(" + ")}`;
  const bar = h("span", { class: "score-bar", title, role: "img", "aria-label": title });
  for (const [k, v] of parts) {
    const width = Math.max(0, Math.min(1, v / scale)) * 100;
    bar.append(h("span", { class: `score-seg seg-${k}`, style: { width: `${width}%` }, "data-part": k, "data-value": String(v) }));
  }
  return bar;
}

function scoreLegend() {
  return h("span", { class: "score-legend", "aria-hidden": "true" },
    PARTS.map(([k]) => h("span", { class: "legend-item" }, h("span", { class: `legend-swatch seg-${k}` }), k)));
}

function memoryWhen(m) {
  if (m.tier === "long-term" || m.step === null || m.step === undefined) return "an earlier scenario";
  return `step ${m.step}`;
}

/** The why panel's body: what the agent recalled, best first. */
export function renderWhy(box, data, { agents, scale }) {
  clear(box);
  const items = Array.isArray(data?.recalled) ? data.recalled : [];
  const agent = agents.get(data?.agent_id);
  const who = agent?.name || data?.agent_id || "The agent";
  if (!items.length) {
    box.append(h("p", { class: "why-empty", "data-testid": "why-empty" },
      `${who} recalled nothing for this: no memories yet.`));
    return;
  }
  box.append(h("div", { class: "why-head" },
    h("span", { class: "why-title" }, `${who} recalled ${items.length} ${items.length === 1 ? "memory" : "memories"}`, h("span", { class: "muted" }, " · best first")),
    scoreLegend()));
  box.append(h("ol", { class: "why-list" }, items.map((r, i) => {
    const m = r.memory || {};
    return h("li", {
      class: "why-item",
      "data-testid": "why-item",
      "data-ref": r.ref,
      "data-score": String(r.score),
    },
    h("span", { class: "why-rank", "aria-hidden": "true" }, String(i + 1)),
    h("div", { class: "why-body" },
      h("div", { class: "why-text", "data-testid": "why-text" }, m.text || r.ref),
      h("div", { class: "why-meta" }, tierBadge(m.tier), h("span", {}, `${m.kind || "memory"} · ${memoryWhen(m)}`),
        isNumber(m.importance) ? h("span", { title: "importance, 1–10" }, `importance ${m.importance}`) : null)),
    h("div", { class: "why-score" }, scoreBar(r, scale), h("span", { class: "why-score-v" }, isNumber(r.score) ? r.score.toFixed(2) : "—")));
  })));
}

// ------------------------------------------------------------------------------------------
// memory events in the transcript: reflections and persona drift, nothing else

function changedTraits(adaptation) {
  const from = adaptation.from || {};
  const to = adaptation.to || {};
  return Object.keys(to).filter((k) => isNumber(to[k]) && isNumber(from[k]) && Math.abs(to[k] - from[k]) > 1e-9);
}

/** The words of an adaptation record: drifted (which traits) or refused (why). */
export function driftText(adaptation) {
  const threshold = fmtScore(adaptation.threshold);
  const consistency = fmtScore(adaptation.consistency);
  if (adaptation.applied === false) {
    return `drift refused: consistency would fall to ${consistency} < ${threshold}`;
  }
  const moved = changedTraits(adaptation).map((k) => `${k} ${fmtScore(adaptation.from[k])}→${fmtScore(adaptation.to[k])}`);
  return `persona drifted: ${moved.join(", ") || "no trait moved"} (consistency ${consistency})`;
}

/** 💭, drawn: a thought bubble (an emoji needs a font the machine may not have). */
function thoughtIcon() {
  return s("svg", { class: "icon icon-thought", viewBox: "0 0 16 16" },
    s("path", { d: "M5 10.2C3 10.2 1.6 8.9 1.6 7.3c0-1.5 1.1-2.6 2.6-2.8C4.6 2.8 6.1 1.7 8 1.7c1.6 0 2.9.8 3.5 2.1h.3c1.7 0 3 1.3 3 3s-1.3 3.3-3 3.3H5z" }),
    s("circle", { cx: "4.4", cy: "12.6", r: "1.1" }),
    s("circle", { cx: "2.2", cy: "14.6", r: "0.7" }));
}

function who(agent, agentId) {
  const color = agent?.color || "#8b93a7";
  return h("span", { class: "mem-who", style: { color } }, agent?.name || agentId || "agent");
}

/** A `memory` event as the transcript shows it: a quiet line per reflection or adaptation,
 * or null (nothing) for the ordinary ones. */
export function memoryNote(e, agents) {
  const p = e.payload || {};
  const insights = (Array.isArray(p.formed) ? p.formed : []).filter((m) => m?.kind === "reflection");
  const adaptation = p.adaptation && typeof p.adaptation === "object" && Object.keys(p.adaptation).length ? p.adaptation : null;
  if (!insights.length && !adaptation) return null;
  const agent = agents.get(e.agent_id);
  const el = h("div", {
    class: "ev-memory",
    "data-testid": "memory-note",
    "data-seq": e.seq,
    "data-agent": e.agent_id || "",
    style: { "--agent": agent?.color || "#8b93a7" },
  });
  if (insights.length) {
    const more = insights.length - 1;
    el.append(h("details", { class: "mem-line mem-reflection", "data-testid": "memory-reflection", "data-count": insights.length },
      h("summary", { title: "Show what the agent concluded" },
        h("span", { class: "mem-icon", "aria-hidden": "true" }, thoughtIcon()),
        h("span", { class: "mem-label" }, "reflection"),
        who(agent, e.agent_id),
        h("span", { class: "mem-first" }, insights[0].text || ""),
        more > 0 ? h("span", { class: "mem-more" }, `+${more}`) : null),
      h("ul", { class: "mem-insights" }, insights.map((m) => h("li", { "data-testid": "memory-insight" }, m.text || "")))));
  }
  if (adaptation) {
    const applied = adaptation.applied !== false;
    const exp = adaptation.experience && typeof adaptation.experience === "object"
      ? Object.entries(adaptation.experience).filter(([, v]) => isNumber(v)).map(([k, v]) => `${k} ${fmtScore(v)}`).join(" · ")
      : "";
    el.append(h("div", {
      class: `mem-line mem-drift${applied ? "" : " refused"}`,
      "data-testid": "memory-adaptation",
      "data-applied": String(applied),
      title: [`consistency with the core persona: ${fmtScore(adaptation.consistency)} (at least ${fmtScore(adaptation.threshold)})`, exp ? `experience: ${exp}` : ""].filter(Boolean).join("\n"),
    },
    h("span", { class: "mem-icon", "aria-hidden": "true" }, applied ? "↝" : "⊘"),
    who(agent, e.agent_id),
    h("span", { class: "mem-drift-text" }, driftText(adaptation))));
  }
  return el;
}

// ------------------------------------------------------------------------------------------
// persistent agents

/** "persistent · v<version>": the profile an agent plays and the version it started from. */
export function persistentBadge(agentSpec) {
  const p = agentSpec?.profile;
  if (!p?.id) return null;
  const version = isNumber(p.version) ? p.version : 0;
  const lived = isNumber(p.lived_steps) ? p.lived_steps : 0;
  return h("a", {
    class: "persist-badge",
    href: `#/agents/${encodeURIComponent(p.id)}`,
    "data-testid": "persistent-badge",
    "data-profile": p.id,
    "data-version": String(version),
    title: `Persistent agent “${p.id}”: started this scenario as version ${version}, with ${lived} step${lived === 1 ? "" : "s"} lived before. Click to open its profile.`,
  }, h("span", { class: "persist-dot", "aria-hidden": "true" }), `persistent · v${version}`);
}

/** How far an agent's traits have drifted from where it started this scenario. */
export function driftSummary(start, current) {
  if (!start || !current || typeof current !== "object") return "";
  return Object.keys(current)
    .filter((k) => isNumber(start[k]) && isNumber(current[k]) && Math.abs(start[k] - current[k]) > 1e-9)
    .map((k) => `${k} ${fmtScore(start[k])}→${fmtScore(current[k])}`)
    .join(" · ");
}

/**
 * "Keep this branch's experience" (only for scenarios with persistent agents): the button (for
 * the toolbar), the answer (a banner under it) and, for the Agents card, which branch each
 * persistent agent keeps.
 * @param {{branch: object, scenarioId: string, agents: object[], label: (id: string) => string,
 *          denied?: () => string}} ctx
 *   agents: the scenario's persistent agents ({id, name, color, profile}); denied: why the key
 *   may not keep it ("" when it may)
 */
export function keepExperience(ctx) {
  const { branch, scenarioId, agents } = ctx;
  const names = agents.map((a) => a.name);
  const button = h("button", {
    class: "btn keep-btn",
    type: "button",
    "data-testid": "keep-experience",
  }, h("span", { class: "keep-icon", "aria-hidden": "true" }, "⤓"), "Keep this branch's experience");
  const statusList = h("ul", { class: "keep-status" });
  const result = h("div", { class: "keep-result", hidden: true, role: "status", "data-testid": "keep-result" });
  const status = h("div", { class: "keep", "data-testid": "keep-panel" },
    h("p", { class: "keep-what" },
      `${listWords(names)} ${agents.length === 1 ? "is a persistent agent" : "are persistent agents"}. `,
      h("strong", {}, "Keep this branch's experience"),
      ` to carry its memories and final persona into the next scenario — one branch per scenario.`),
    statusList);

  let busy = false;
  let running = false;
  const sync = () => {
    const allowed = setDenied(button, "write", ctx.denied ? ctx.denied() : "", running ? "Wait until the branch stops running" : "");
    button.disabled = !allowed || busy || running;
    button.classList.toggle("busy", busy);
  };

  let asked = 0;
  const refresh = async () => {
    const mine = ++asked;
    const rows = await Promise.all(agents.map(async (a) => {
      try {
        return [a, await api.agent(a.profile.id)];
      } catch {
        return [a, null];
      }
    }));
    if (mine !== asked) return; // a newer answer is on its way
    clear(statusList);
    for (const [a, detail] of rows) {
      const part = (detail?.history || []).find((x) => x.scenario_id === scenarioId);
      const kept = part?.kept_branch || null;
      const version = (detail?.versions || []).find((v) => v.branch_id && v.branch_id === kept)?.version;
      let text;
      if (!detail) text = "—";
      else if (!kept) text = "no branch kept yet";
      else if (kept === branch.id) text = `keeps this branch${isNumber(version) ? ` (v${version})` : ""}`;
      else text = `keeps ${ctx.label(kept)}${isNumber(version) ? ` (v${version})` : ""}`;
      statusList.append(h("li", {
        class: `keep-row${kept === branch.id ? " kept-here" : ""}`,
        "data-testid": "keep-status",
        "data-agent": a.id,
        "data-kept-branch": kept || "",
      },
      h("span", { class: "avatar avatar-xs", style: { background: a.color } }, initials(a.name)),
      h("span", { class: "keep-who" }, h("span", { class: "keep-name" }, a.name),
        h("span", { class: "keep-state" }, kept === branch.id ? "✓ " : "", text))));
    }
  };

  button.addEventListener("click", async () => {
    if (busy || (ctx.denied && ctx.denied())) return;
    busy = true;
    sync();
    try {
      const made = await api.commit(branch.id);
      const lines = (Array.isArray(made) ? made : []).map((v) => {
        const a = agents.find((x) => x.id === v.agent_id);
        return `${a?.name || v.agent_id} is now v${v.version}: ${v.memories} ${v.memories === 1 ? "memory" : "memories"} from this branch, ${v.lived_steps} steps lived.`;
      });
      showResult("ok", "Experience kept", lines.join(" "));
    } catch (err) {
      const detail = err instanceof ApiError ? err.detail : String(err?.message || err);
      if (err instanceof ApiError && err.status === 409) showResult("conflict", "Already kept", readable(detail));
      else showResult("error", "Could not keep it", detail);
    } finally {
      busy = false;
      sync();
    }
    refresh();
  });

  // The server names the kept branch by id: say "this branch" or its label instead.
  // It names the agent by its profile id: use the agent's name.
  const readable = (detail) => {
    let text = String(detail).replace(/\bbranch ([0-9A-Za-z_-]{6,})/, (m, id) =>
      id === branch.id ? "this branch" : `branch “${ctx.label(id)}”`);
    for (const a of agents) text = text.split(`'${a.profile.id}'`).join(a.name);
    return text;
  };

  const showResult = (state, title, detail) => {
    result.dataset.state = state;
    result.className = `keep-result keep-${state}`;
    const close = h("button", { class: "keep-close", type: "button", "aria-label": "Dismiss", "data-testid": "keep-dismiss" }, "×");
    close.addEventListener("click", () => {
      result.hidden = true;
    });
    clear(result).append(
      h("span", { class: "keep-result-icon", "aria-hidden": "true" }, state === "ok" ? "✓" : state === "conflict" ? "!" : "×"),
      h("div", { class: "keep-result-body" }, h("strong", {}, title), " ", h("span", { class: "keep-detail", "data-testid": "keep-detail" }, detail)),
      close);
    result.hidden = false;
  };

  sync();
  refresh();
  return {
    button,
    result,
    status,
    /** Turns the button off (or on) after what the key may do changed. */
    syncRights: sync,
    /** Disables the button while the branch runs. */
    setRunning(value) {
      if (running === value) return;
      running = value;
      sync();
    },
  };
}

function listWords(items) {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}
