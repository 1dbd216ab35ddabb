// Rollout sets in the UI (docs/web-ui.md): the set view (#/rollouts/<id>) with live progress,
// each outcome's distribution and effect with its CI in words, fan charts, per-agent effects
// and the members; and the lists of sets (on the start page and under their parent branch).

import { api, ApiError, can, deniedReason } from "./api.js";
import { RolloutStream } from "./rollstream.js";
import { agentEffectChart, fanChart, rateChart, stripChart } from "./rollcharts.js";
import { clear, fmtNum, fmtValue, h, humanise, isNumber, setDenied, shortId, timeAgo } from "./dom.js";

const SET_COLOR = "#e0672a"; // the futures with the injection (as B in the compare view)
const CONTROL_COLOR = "#3f5bd8"; // the control futures (as A)
const PLAIN_COLOR = "#3f5bd8"; // a set without a control
const MEMBERS_REFRESH_MS = 1500; // the members table follows progress at most this often
const MEMBERS_LIVE_MAX = 100; // larger sets refresh their table on settle (each refresh reads every member)
const MEMBER_ROWS = 200; // rows shown before "show all"

/** "12 futures", "1 future". */
export function futures(n) {
  return `${fmtNum(n)} ${n === 1 ? "future" : "futures"}`;
}

function injectionWords(injection) {
  if (!injection) return "no injection";
  const who = injection.strategy === "direct" && injection.targets?.length ? `told privately to ${injection.targets.join(", ")}`
    : injection.strategy === "gradual" ? `spread over ${injection.schedule?.steps ?? injection.schedule?.waves?.length ?? "?"} steps`
      : "broadcast to everyone";
  return `“${injection.content || "(no text)"}” · ${who}`;
}

/** What a set's status means now: "running" on record with nothing running was interrupted. */
function setStatus(status, running) {
  if (running) return "running";
  return status === "running" ? "stopped" : status;
}

function statusPill(status, running, testid) {
  const s = setStatus(status, running);
  return h("span", { class: `status status-${s === "partial" ? "paused" : s}`, "data-testid": testid, "data-status": s }, s);
}

/**
 * A progress bar with "7 of 12 futures done" (and forking while the branches are created);
 * while they run, a lighter fill shows the step they are at on average (of `maxSteps`).
 */
function progressRow(label, color, testid, maxSteps) {
  const fill = h("span", { class: "roll-bar-fill", style: { background: color } });
  const steps = h("span", { class: "roll-bar-steps", style: { background: color } });
  const text = h("span", { class: "roll-bar-text" });
  const row = h("div", { class: "roll-progress-row", "data-testid": testid, role: "progressbar", "aria-label": label, "aria-valuemin": 0 },
    h("span", { class: "roll-progress-label" }, h("span", { class: "dot", style: { background: color } }), label),
    h("span", { class: "roll-bar" }, steps, fill), text);
  return {
    row,
    set(p) {
      const total = p.total || 0;
      const done = p.done || 0;
      row.dataset.done = String(done);
      row.dataset.total = String(total);
      row.setAttribute("aria-valuenow", String(done));
      row.setAttribute("aria-valuemax", String(total));
      fill.style.width = `${total ? (100 * done) / total : 0}%`;
      const forking = p.phase === "forking" && isNumber(p.forked) && p.forked < total;
      const running = p.phase === "running" && done < total;
      row.classList.toggle("active", p.phase === "forking" || p.phase === "running");
      const at = running && isNumber(p.step) && maxSteps ? Math.min(1, p.step / maxSteps) : 0;
      steps.style.width = `${100 * at}%`;
      row.dataset.step = isNumber(p.step) ? String(p.step) : "";
      text.textContent = forking
        ? `forking ${fmtNum(p.forked)} of ${fmtNum(total)}…`
        : `${fmtNum(done)} of ${futures(total)} done${at ? ` · step ${Math.floor(p.step)} of ${maxSteps} on average` : ""}`;
    },
  };
}

// ------------------------------------------------------------------------------------------
// lists

function setRow(set, navigate) {
  return h("li", {},
    h("a", { class: "roll-item", href: `#/rollouts/${set.id}`, "data-testid": "rollout-item", "data-set-id": set.id,
      onclick: (ev) => { ev.preventDefault(); navigate(`#/rollouts/${set.id}`); } },
    h("span", { class: "roll-item-main" },
      h("span", { class: "roll-item-what" }, h("strong", {}, futures(set.n)), ` after step ${set.fork_step}`),
      statusPill(set.status, set.running, "rollout-item-status")),
    h("span", { class: "roll-item-sub muted small" },
      h("span", { class: "roll-item-inj", title: set.injection?.content || "" }, set.injection ? injectionWords(set.injection) : "no injection"),
      h("span", { class: "roll-item-meta" }, `${fmtNum(set.progress.done)}/${fmtNum(set.progress.total)} done · ${timeAgo(set.created_at)}`))));
}

/** Intervention sets list their control inside their row; a control shown alone otherwise. */
function topLevel(sets) {
  const controls = new Set(sets.map((x) => x.control_id).filter(Boolean));
  return sets.filter((x) => !controls.has(x.id));
}

/**
 * "Rollout sets from this branch": hidden until the list is back and not empty.
 * @returns {HTMLElement}
 */
export function rolloutSetsPanel(branchId, { navigate, alive }) {
  const list = h("ul", { class: "roll-list" });
  const panel = h("section", { class: "panel", hidden: true, "data-testid": "branch-rollouts" },
    h("div", { class: "panel-head" }, h("h2", {}, "Rollout sets from this branch")), list);
  api.rollouts().then((sets) => {
    if (!alive()) return;
    const mine = topLevel((sets || []).filter((x) => x.parent_id === branchId)).reverse();
    list.append(...mine.map((x) => setRow(x, navigate)));
    panel.hidden = !mine.length;
  }, () => {});
  return panel;
}

/** The start page's list of every set, newest first (hidden when there is none). */
export function rolloutSetsSection({ navigate, alive }) {
  const list = h("ul", { class: "roll-list" });
  const section = h("section", { class: "home-section", hidden: true, "data-testid": "home-rollouts" },
    h("div", { class: "section-head" }, h("h2", {}, "Rollout sets"),
      h("span", { class: "muted" }, "many futures from one point: what tends to happen, with how sure we are")),
    list);
  api.rollouts().then((sets) => {
    if (!alive()) return;
    const shown = topLevel(sets || []).reverse().slice(0, 20);
    list.append(...shown.map((x) => setRow(x, navigate)));
    section.hidden = !shown.length;
  }, () => {});
  return section;
}

// ------------------------------------------------------------------------------------------
// the set view

/**
 * @param {HTMLElement} view
 * @param {string} setId
 * @param {{alive: () => boolean, navigate: (hash: string) => void, setCrumbs: Function,
 *          setConnection: (state: string|null) => void, loadScenario: (id: string) => Promise<object>,
 *          onError: (err, what: string) => void, onStream: (stream: RolloutStream) => void}} ctx
 */
export async function showRollouts(view, setId, ctx) {
  const { alive, navigate } = ctx;
  clear(view).append(h("div", { class: "loading page-loading" }, h("span", { class: "spinner" }), "Opening rollout set…"));
  let set;
  let entry;
  let parent;
  try {
    set = await api.rollout(setId);
    [entry, parent] = await Promise.all([ctx.loadScenario(set.scenario_id), api.branch(set.parent_id).catch(() => null)]);
  } catch (err) {
    if (!alive()) return;
    clear(view).append(h("div", { class: "center-page" }, h("div", { class: "card empty-card" },
      h("h1", {}, "Rollout set not found"), h("p", { class: "muted" }, err.message), h("a", { class: "btn", href: "#/" }, "Back to sandboxes"))));
    return;
  }
  if (!alive()) return;
  const scenarioName = entry.record.name || entry.spec.name;
  const parentLabel = parent?.label || shortId(set.parent_id);
  ctx.setCrumbs({ text: "Sandboxes", href: "#/" }, { text: scenarioName, href: `#/b/${set.parent_id}` }, { text: `Rollout set ${shortId(set.id)}` });

  const st = { set, control: null, stats: null, members: null, controlMembers: null, membersAt: 0, membersTimer: null };
  const paired = () => Boolean(st.set.control_id);
  const setLabel = () => (paired() ? "with the injection" : "these futures");

  // --- header
  const pill = h("span", { "data-testid": "rollout-status" });
  const maxSteps = isNumber(entry.spec.termination?.max_steps) ? entry.spec.termination.max_steps : null;
  const setBar = progressRow(setLabel(), paired() ? SET_COLOR : PLAIN_COLOR, "rollout-progress-set", maxSteps);
  const controlBar = progressRow("control (no injection)", CONTROL_COLOR, "rollout-progress-control", maxSteps);
  controlBar.row.hidden = !paired();
  const failure = h("div", { class: "failure-banner", role: "alert", hidden: true, "data-testid": "rollout-failure" });
  const continueBtn = h("button", { class: "btn", type: "button", hidden: true, "data-testid": "rollout-continue" }, "↻ Continue the unfinished");
  const injection = set.injection;
  const head = h("section", { class: "panel roll-head", "data-testid": "rollout-head" },
    h("div", { class: "roll-title" },
      h("h1", {}, `${futures(set.n)} of “${scenarioName}”`), pill,
      h("code", { class: "muted small", title: set.id }, shortId(set.id)), continueBtn),
    h("dl", { class: "facts roll-facts" },
      h("dt", {}, "from"), h("dd", {}, "branch ", h("a", { href: `#/b/${set.parent_id}`, "data-testid": "rollout-parent" }, parentLabel), ` after step ${set.fork_step}`),
      h("dt", {}, "injection"), h("dd", { "data-testid": "rollout-injection" }, injection ? injectionWords(injection) : "none: the plain futures from this point"),
      injection?.fields && Object.keys(injection.fields).length ? [h("dt", {}, "fields"), h("dd", {}, fmtValue(injection.fields))] : null,
      h("dt", {}, "seeds"), h("dd", { title: "seed i = BLAKE2b(seed base, i) — docs/rollouts.md" }, `${futures(set.n)} from seed base ${set.seed_base}`),
      paired() ? [h("dt", {}, "control"), h("dd", {}, `the same ${fmtNum(set.n)} seeds without the injection (paired: future i with it vs without it)`)] : null),
    h("div", { class: "roll-progress" }, setBar.row, controlBar.row),
    failure);

  const effects = h("section", { class: "panel", "data-testid": "rollout-effects" },
    h("div", { class: "panel-head" }, h("h2", {}, "Outcomes"), h("span", { class: "muted small", "data-testid": "rollout-basis" })));
  const fans = h("section", { class: "panel", hidden: true, "data-testid": "rollout-fans" },
    h("div", { class: "panel-head" }, h("h2", {}, "How the futures spread, step by step"), legend()));
  const agents = h("section", { class: "panel", hidden: true, "data-testid": "rollout-agents" },
    h("div", { class: "panel-head" }, h("h2", {}, "Effect per agent"),
      h("span", { class: "muted small" }, "with − without the injection, same seeds; 95% CI; grey: no detectable effect")));
  const membersBox = h("div", { class: "table-wrap" });
  const members = h("section", { class: "panel", "data-testid": "rollout-members" },
    h("div", { class: "panel-head" }, h("h2", {}, "Futures"),
      h("span", { class: "muted small" }, "Click a future to open its branch · “vs control” compares it with its twin")),
    membersBox);
  clear(view).append(h("div", { class: "rollout-page", "data-testid": "rollout-view", "data-set-id": set.id },
    head, effects, fans, agents, members));

  function legend() {
    const item = (color, text) => h("span", { class: "roll-legend-item" }, h("span", { class: "swatch", style: { background: color } }), text);
    return h("span", { class: "roll-legend muted small" },
      paired() ? [item(SET_COLOR, "with the injection"), item(CONTROL_COLOR, "control")] : item(PLAIN_COLOR, "futures"),
      " · band 5–95th, darker 25–75th percentile, line median");
  }

  // --- status and progress
  const renderHead = () => {
    const s = st.set;
    pill.replaceChildren(statusPill(s.status, s.running, "rollout-status-pill"));
    pill.dataset.status = setStatus(s.status, s.running);
    const unfinished = ["partial", "failed", "stopped"].includes(setStatus(s.status, s.running));
    continueBtn.hidden = !unfinished;
    if (unfinished) setDenied(continueBtn, "write", deniedReason("write"), "Run only the futures that have not finished");
    const phase = s.running ? "running" : "settled"; // live counts follow in progress messages
    setBar.set({ ...s.progress, phase });
    if (st.control) controlBar.set({ ...st.control.progress, phase });
    renderFailure();
  };
  const renderFailure = async () => {
    const s = st.set;
    let reason = s.error || st.control?.error || "";
    const failed = (st.members || []).concat(st.controlMembers || []).filter((m) => m.status === "failed");
    if (!reason && failed.length) {
      const b = await api.branch(failed[0].branch_id).catch(() => null);
      if (!alive()) return;
      reason = `${futures(failed.length)} failed; the first (#${failed[0].index}): ${b?.failure?.detail || "no reason recorded"}`;
    }
    if (!reason && !st.members) return; // the members (and their reasons) are on their way
    if (!reason && s.status === "failed" && !s.running) reason = "a future failed (see the table below)";
    failure.hidden = !reason;
    if (reason) {
      clear(failure).append(h("span", { class: "failure-icon", "aria-hidden": "true" }, "!"),
        h("div", { class: "failure-text" }, h("strong", {}, "This set did not finish: "), reason,
          h("div", { class: "failure-hint muted" }, "Finished futures are kept as they are: fix the cause, then Continue runs only the unfinished ones.")));
    }
  };
  continueBtn.addEventListener("click", async () => {
    continueBtn.disabled = true;
    try {
      st.set = await api.continueRollouts(st.set.id);
      renderHead();
      follow();
    } catch (err) {
      ctx.onError(err, "Could not continue the set");
    } finally {
      continueBtn.disabled = false;
    }
  });

  // --- data
  const loadMembers = async () => {
    st.membersAt = Date.now();
    const [mine, twins] = await Promise.all([
      api.rolloutMembers(st.set.id),
      st.set.control_id ? api.rolloutMembers(st.set.control_id) : Promise.resolve(null),
    ]);
    if (!alive()) return;
    st.members = mine;
    st.controlMembers = twins;
    renderMembers();
  };
  const refreshMembersSoon = () => {
    if (st.membersTimer || st.set.n > MEMBERS_LIVE_MAX) return;
    const wait = Math.max(0, MEMBERS_REFRESH_MS - (Date.now() - st.membersAt));
    st.membersTimer = setTimeout(() => {
      st.membersTimer = null;
      loadMembers().catch(() => {});
    }, wait);
  };
  const settle = async () => {
    if (!st.stats) {
      clearBody(effects);
      effects.append(h("p", { class: "roll-empty loading", "data-testid": "rollout-computing" },
        h("span", { class: "spinner" }), "Computing the statistics of every future…"));
    }
    try {
      const [stats] = await Promise.all([api.rolloutStats(st.set.id), loadMembers()]);
      if (!alive()) return;
      st.stats = stats;
      renderStats();
      renderHead();
    } catch (err) {
      if (alive()) ctx.onError(err, "Could not load the set's statistics");
    }
  };

  // --- live
  const follow = () => {
    const stream = new RolloutStream(st.set.id, {
      onHello: (msg) => {
        if (!alive()) return;
        st.set = msg.set;
        st.control = msg.control;
        renderHead();
        if (st.set.running) {
          renderWaiting();
          loadMembers().catch(() => {});
        }
      },
      onProgress: (msg) => {
        if (!alive()) return;
        if (msg.set) setBar.set(msg.set);
        if (msg.control) controlBar.set(msg.control);
        refreshMembersSoon();
      },
      onSettled: (msg) => {
        if (!alive()) return;
        st.set = msg.set;
        st.control = msg.control;
        renderHead();
        settle();
      },
      onConnection: (c) => alive() && ctx.setConnection(c),
      onFatal: (code, reason) => alive() && ctx.onError(new ApiError(code, { detail: reason }), "The live progress stopped"),
    });
    ctx.onStream(stream.start());
  };

  // --- rendering
  function renderWaiting() {
    clearBody(effects);
    const p = st.set.progress;
    effects.append(h("p", { class: "roll-empty", "data-testid": "rollout-waiting" },
      `The charts appear when the futures have finished: ${fmtNum(p.done)} of ${futures(p.total)} so far.`));
  }

  function clearBody(panel) {
    while (panel.childNodes.length > 1) panel.lastChild.remove();
  }

  function renderStats() {
    const stats = st.stats;
    clearBody(effects);
    clearBody(agents);
    clearBody(fans);
    const outcomes = Object.entries(stats.outcomes || {});
    const counted = outcomes.filter(([, o]) => o.kind === "yes/no" || o.kind === "number");
    const finished = (st.members || []).filter((m) => m.status === "done").length;
    effects.querySelector("[data-testid=rollout-basis]").textContent = !finished ? ""
      : finished < st.set.n
      ? `over the ${fmtNum(finished)} of ${futures(st.set.n)} that finished`
      : `over all ${futures(st.set.n)}${stats.comparison === "paired" ? ", paired with their controls" : ""}`;
    if (!counted.length) {
      effects.append(h("p", { class: "roll-empty", "data-testid": "rollout-empty" }, finished
        ? "This scenario declares no yes/no or number outcomes to count."
        : "No future has finished, so there is nothing to count yet."));
    }
    for (const note of stats.notes || []) {
      effects.append(h("p", { class: "roll-note", "data-testid": "rollout-note" }, note));
    }
    const grid = h("div", { class: "roll-outcomes" });
    for (const [name, o] of counted) grid.append(outcomeCard(name, o));
    effects.append(grid);

    const bands = Object.entries(stats.bands || {});
    fans.hidden = !bands.length;
    const fanGrid = h("div", { class: "chart-grid roll-fans" });
    for (const [name, b] of bands) {
      const split = stats.split?.[name];
      const sets = [{ key: "set", label: setLabel(), color: paired() ? SET_COLOR : PLAIN_COLOR, bands: b.set }];
      if (b.vs) sets.unshift({ key: "vs", label: "control", color: CONTROL_COLOR, bands: b.vs });
      const caption = split
        ? (isNumber(split.split_step)
          ? `the futures part at step ${split.split_step} (first step where the two differ, KS test p < ${split.alpha})`
          : "the two sets never differ clearly at any step")
        : "";
      fanGrid.append(h("figure", { class: "chart-card", "data-testid": "fan-card", "data-outcome": name },
        h("figcaption", {}, h("strong", {}, humanise(name)), caption ? h("span", { class: "muted small" }, ` — ${caption}`) : null),
        fanChart({ sets, forkStep: st.set.fork_step, split: split?.split_step, testid: "fan-chart", title: `${humanise(name)} over steps` })));
    }
    fans.append(fanGrid);

    const perAgent = outcomes.filter(([, o]) => o.agents && Object.keys(o.agents).length);
    agents.hidden = !perAgent.length;
    for (const [name, o] of perAgent) {
      const rows = Object.entries(o.agents).map(([id, e]) => ({
        name: entry.agents.get(id)?.name || id, difference: e.difference, lo: e.ci_low, hi: e.ci_high, detectable: e.detectable,
      })).filter((r) => isNumber(r.difference));
      agents.append(h("figure", { class: "chart-card roll-agents-card", "data-outcome": name },
        h("figcaption", {}, h("strong", {}, humanise(name)), h("span", { class: "muted small" }, " at the end, per agent")),
        agentEffectChart(rows, { testid: "agent-chart", title: `${humanise(name)} per agent` })));
    }
  }

  function outcomeCard(name, o) {
    const e = o.effect;
    const values = (list) => (list || []).map((m) => m.outcomes?.[name]).filter(isNumber);
    const sum = (x) => ({ mean: x?.mean ?? null, lo: x?.ci_low ?? null, hi: x?.ci_high ?? null, n: x?.n ?? 0 });
    const rows = [{ label: setLabel(), color: paired() ? SET_COLOR : PLAIN_COLOR, values: values(st.members), ...sum(e ? e.treated : o.summary) }];
    if (e) rows.push({ label: paired() ? "control" : "the other set", color: CONTROL_COLOR, values: values(st.controlMembers), ...sum(e.control) });
    const chart = o.kind === "yes/no"
      ? rateChart(rows, { testid: "rate-chart", title: `${humanise(name)}: share of yes` })
      : stripChart(rows, { testid: "strip-chart", title: `${humanise(name)}: every future` });
    return h("figure", { class: "chart-card roll-outcome", "data-testid": "outcome-card", "data-outcome": name, "data-kind": o.kind },
      h("figcaption", {}, h("strong", {}, humanise(name)), h("span", { class: "muted small" }, o.kind === "yes/no" ? " · share of futures where yes" : " · value at the end")),
      h("p", { class: `roll-sentence${e?.detectable ? " detectable" : ""}`, "data-testid": "effect-sentence" }, sentence(name, o)),
      chart,
      e ? h("p", { class: "roll-numbers muted small", "data-testid": "effect-numbers" }, effectNumbers(e)) : null);
  }

  function sentence(name, o) {
    if (o.effect) return o.effect.sentence.replaceAll(name, humanise(name));
    const x = o.summary;
    if (!x || !isNumber(x.mean)) return "No finished future to count.";
    if (o.kind === "yes/no") return `${humanise(name)} in ${pct(x.mean)} [${Math.round(x.ci_low * 100)}–${pct(x.ci_high)}] of ${futures(x.n)}`;
    return `mean ${humanise(name)} ${fmtNum(x.mean)} [${fmtNum(x.ci_low)} to ${fmtNum(x.ci_high)}] over ${futures(x.n)}`;
  }

  function renderMembers() {
    const list = st.members || [];
    const twins = new Map((st.controlMembers || []).map((m) => [m.index, m]));
    const names = [...new Set(list.flatMap((m) => Object.entries(m.outcomes || {}).filter(([, v]) => v === null || typeof v !== "object").map(([k]) => k)))];
    clear(membersBox);
    if (!list.length) {
      membersBox.append(h("p", { class: "roll-empty" }, "The futures' branches are being created…"));
      return;
    }
    const shown = membersBox.dataset.all ? list : list.slice(0, MEMBER_ROWS);
    const rows = shown.map((m) => {
      const twin = twins.get(m.index);
      return h("tr", { class: "roll-member", "data-testid": "member-row", "data-index": m.index, "data-branch-id": m.branch_id,
        onclick: () => navigate(`#/b/${m.branch_id}`), title: "Open this future's branch" },
      h("td", { class: "num" }, String(m.index)),
      h("td", {}, h("code", { title: String(m.seed) }, String(m.seed).slice(0, 8) + "…")),
      h("td", {}, statusPill(m.status, false, "member-status")),
      h("td", { class: "num" }, String(m.head_step)),
      names.map((k) => {
        const v = m.outcomes ? m.outcomes[k] : undefined;
        return h("td", { class: typeof v === "boolean" ? (v ? "yes" : "no") : "num" }, v === undefined ? "—" : fmtValue(v));
      }),
      h("td", { class: "roll-member-actions" },
        h("a", { href: `#/b/${m.branch_id}`, "data-testid": "member-open" }, "open"),
        twin ? [" · ", h("a", { href: `#/compare/${twin.branch_id}/${m.branch_id}`, "data-testid": "member-compare",
          title: "Compare with the control future of the same seed", onclick: (ev) => ev.stopPropagation() }, "vs control")] : null));
    });
    membersBox.append(h("table", { class: "table roll-members" },
      h("thead", {}, h("tr", {}, h("th", { class: "num" }, "#"), h("th", {}, "seed"), h("th", {}, "status"), h("th", { class: "num" }, "step"),
        names.map((k) => h("th", {}, humanise(k))), h("th", {}, ""))),
      h("tbody", {}, rows)));
    if (st.set.running && st.set.n > MEMBERS_LIVE_MAX) {
      membersBox.prepend(h("p", { class: "muted small" }, "The table shows the futures as they were when the page opened; it is refreshed when the set finishes."));
    }
    if (shown.length < list.length) {
      membersBox.append(h("button", { class: "btn btn-ghost btn-small", type: "button",
        onclick: () => { membersBox.dataset.all = "1"; renderMembers(); } }, `Show all ${futures(list.length)}`));
    }
  }

  renderHead();
  if (st.set.running) renderWaiting();
  follow(); // hello → (progress…) → settled: the stats are fetched on settle, also for a set done long ago
  if (!can("write")) continueBtn.title = deniedReason("write");
}

function pct(v) {
  return isNumber(v) ? `${Math.round(v * 100)}%` : "—";
}

function signed(v, digits) {
  return fmtNum(v, { signed: true, digits });
}

/** The effect's numbers, small: difference with CI, effect size, p-value, basis, notes. */
function effectNumbers(e) {
  const yesNo = e.kind === "yes/no";
  const diff = (v) => (yesNo ? `${signed(Math.round(v * 100), 0)}` : signed(v));
  const parts = [];
  if (isNumber(e.difference)) {
    const ci = isNumber(e.ci_low) ? ` [${diff(e.ci_low)} to ${diff(e.ci_high)}]` : "";
    parts.push(`${yesNo ? "risk difference" : "difference"} ${diff(e.difference)}${yesNo ? " points" : ""}${ci}`);
  }
  if (isNumber(e.effect_size)) parts.push(`Cohen's ${e.effect_size_kind === "d_z" ? "dz" : e.effect_size_kind} ${fmtNum(e.effect_size, { digits: 2 })}`);
  if (isNumber(e.p_value)) parts.push(`p ${e.p_value < 0.001 ? "< 0.001" : `= ${fmtNum(e.p_value, { digits: 3 })}`}${e.p_exact ? " (exact)" : ""}`);
  parts.push(`${e.paired ? "paired" : "unpaired"}, n = ${e.treated?.n ?? "?"}`);
  return [parts.join(" · "), ...(e.notes || []).map((n) => h("span", { class: "roll-effect-note" }, n))];
}
