// The Emergence panel of the branch view: the swarm's metrics per step
// (GET /v1/branches/{id}/metrics, computed by the server from the timeline: swarm/metrics.py),
// a small line chart each, its value at the head, and how it is measured on hover.

import { api } from "./api.js";
import { lineChart } from "./charts.js";
import { clear, fmtNum, h, isNumber } from "./dom.js";

const ACCENT = "#3f5bd8";

/** What each per-step metric is and how it is measured (params: the server's constants). */
export const METRICS = [
  {
    key: "polarization", label: "Polarization", ticks: [0, 0.5, 1],
    how: (p) => `Esteban–Ray polarization over the opinion clusters (α = ${p.er_alpha}): big groups far apart score high; two equal camps at −1 and +1 score 1, one cluster 0.`,
  },
  {
    key: "opinion_clusters", label: "Opinion clusters", integer: true,
    how: (p) => `1-D gap clustering: sort the stances and start a new cluster wherever two neighbours differ by more than ${p.cluster_gap}.`,
  },
  {
    key: "bimodality", label: "Bimodality", ticks: [0, 0.5, 1],
    how: () => "Sarle's bimodality coefficient (sample skewness and excess kurtosis); above 5/9 ≈ 0.556 suggests two camps.",
  },
  {
    key: "stance_spread", label: "Stance spread", ticks: [0, 1, 2],
    how: (p) => `Highest minus lowest stance. Consensus: the spread stays below ${p.consensus_spread} to the end.`,
  },
  {
    key: "mean_stance", label: "Mean stance", ticks: [-1, 0, 1],
    how: () => "The mean of the agents' stances (−1 against … +1 for).",
  },
  {
    key: "echo_chamber", label: "Echo chamber", ticks: [0, 0.5, 1], groupsOnly: true,
    how: () => "Groups topologies: the share of the step's hearings where speaker and hearer share a group (1: they only hear their own).",
  },
];

function fmt(v, integer) {
  if (!isNumber(v)) return "—";
  return integer ? String(v) : fmtNum(v, { digits: 3 });
}

/** One metric's card: name (method in the tooltip), value at the head, chart over steps. */
function metricCard(def, metrics, { cursor, shared }) {
  const points = metrics.steps.filter((m) => isNumber(m[def.key])).map((m) => [m.step, m[def.key]]);
  const how = def.how(metrics.params);
  const last = points.length ? points[points.length - 1][1] : null;
  let marker;
  if (def.key === "stance_spread" && isNumber(metrics.consensus_step)) {
    marker = { x: metrics.consensus_step, label: `consensus · step ${metrics.consensus_step}` };
  }
  const ys = points.map((p) => p[1]);
  // the metric's natural range when every value is in it (a fixed scale reads across steps)
  const fits = def.ticks && ys.every((v) => v >= def.ticks[0] && v <= def.ticks[def.ticks.length - 1]);
  const top = Math.max(2, ...ys);
  const yTicks = fits ? def.ticks : def.integer ? [0, Math.ceil(top / 2), 2 * Math.ceil(top / 2)] : undefined;
  const chart = points.length
    ? lineChart({ series: [{ name: def.label, color: ACCENT, points }], compact: true, width: 250, height: 84, yTicks, marker, cursor, shared, title: `${def.label} over steps`, testid: "emergence-chart" })
    : h("p", { class: "muted small" }, "No value yet.");
  return h("figure", { class: "emergence-card", "data-testid": "emergence-metric", "data-metric": def.key, title: how },
    h("figcaption", {},
      h("span", { class: "em-name" }, def.label, h("span", { class: "em-info", "aria-hidden": "true" }, "i")),
      h("span", { class: "em-value", "data-testid": "emergence-value", "data-value": last === null ? "" : String(last) }, fmt(last, def.integer))),
    chart);
}

/** Over the whole branch: consensus, the echo-chamber index and the top influencers. */
function summaryBlock(metrics, agents) {
  const name = (id) => agents.get(id)?.name || id;
  const top = Object.entries(metrics.influence || {})
    .filter(([, v]) => v !== 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, 3);
  const rows = [
    h("dt", { title: `The first step from which the stance spread stays below ${metrics.params.consensus_spread} to the last step.` }, "Consensus"),
    h("dd", { "data-testid": "emergence-consensus", "data-value": String(metrics.consensus_step ?? "") },
      isNumber(metrics.consensus_step) ? `from step ${metrics.consensus_step}` : "not reached"),
  ];
  if (isNumber(metrics.ei_index)) {
    rows.push(
      h("dt", { title: "Krackhardt's E-I index over every hearing of the branch: −1 only within groups (an echo chamber), +1 only across." }, "E-I index"),
      h("dd", { "data-testid": "emergence-ei", "data-value": String(metrics.ei_index) }, fmtNum(metrics.ei_index, { digits: 3 })));
  }
  rows.push(
    h("dt", { title: "Who moved whom: how far each speaker's hearers moved toward it over the next step, shared among the speakers each heard; summed over the branch." }, "Most influence"),
    h("dd", { "data-testid": "emergence-influence" },
      top.length ? h("ol", { class: "em-influence" }, top.map(([id, v]) => h("li", { "data-agent": id, "data-value": String(v) }, `${name(id)} `, h("span", { class: "muted" }, fmtNum(v, { signed: true, digits: 3 })))))
        : h("span", { class: "muted" }, "nobody moved anyone yet")));
  return h("dl", { class: "facts em-summary" }, rows);
}

/**
 * The panel; `refresh()` refetches (coalesced: at most one request in flight, and one more
 * after it when asked meanwhile).
 * @param {string} branchId
 * `mark(step)` draws a cursor at the step the network view shows (null: none).
 * @param {{agents: Map<string, {name: string}>, alive: () => boolean, groups: boolean,
 *          forkStep: number|null}} opts  forkStep: a fork's inherited history is drawn grey
 */
export function emergencePanel(branchId, { agents, alive, groups, forkStep = null }) {
  const box = h("div", { class: "emergence-box" }, h("div", { class: "loading" }, h("span", { class: "spinner" }), "Measuring…"));
  const stepNote = h("span", { class: "muted small", "data-testid": "emergence-step" });
  const panel = h("section", { class: "panel emergence-panel", "data-testid": "emergence-panel" },
    h("div", { class: "panel-head" }, h("h2", { title: "Measured from the timeline (docs/swarms.md, Emergence metrics); hover a metric for how." }, "Emergence"), stepNote),
    box);
  const load = { busy: false, again: false, timer: null, took: 0 };
  const view = { metrics: null, cursor: null };

  const render = (metrics) => {
    view.metrics = metrics;
    const opts = { cursor: view.cursor, shared: isNumber(forkStep) && forkStep > 0 ? forkStep : undefined };
    const defs = METRICS.filter((d) => !d.groupsOnly || groups || metrics.steps.some((m) => isNumber(m[d.key])));
    clear(box).append(
      h("div", { class: "emergence-grid" }, defs.map((d) => metricCard(d, metrics, opts))),
      summaryBlock(metrics, agents),
      h("details", { class: "em-legend", "data-testid": "emergence-legend" },
        h("summary", { class: "small" }, "How these are measured"),
        h("dl", {}, defs.flatMap((d) => [
          h("dt", {}, d.label),
          h("dd", { class: "muted small", "data-testid": "emergence-how", "data-metric": d.key }, d.how(metrics.params))]))));
    const last = metrics.final;
    stepNote.textContent = last ? `step ${last.step} · ${last.stances} stances` : "";
    panel.dataset.step = last ? String(last.step) : "";
    panel.dataset.ready = "true";
  };

  const fetchNow = async () => {
    if (load.busy) {
      load.again = true;
      return;
    }
    load.busy = true;
    const began = performance.now();
    try {
      const metrics = await api.metrics(branchId);
      if (alive()) render(metrics);
    } catch (err) {
      if (alive()) clear(box).append(h("p", { class: "muted small" }, `The metrics are not available: ${err.message}`));
    } finally {
      load.busy = false;
      load.took = performance.now() - began;
    }
    if (load.again && alive()) {
      load.again = false;
      fetchNow();
    }
  };
  // a step end during a run: fetch at most about once a second, less often when the server
  // takes long to measure (a big swarm: the walk reads every event of the branch)
  const refresh = () => {
    if (load.timer !== null) return;
    load.timer = setTimeout(() => {
      load.timer = null;
      fetchNow();
    }, Math.max(800, 3 * load.took));
  };
  const mark = (step) => {
    if (view.cursor === step) return;
    view.cursor = step;
    panel.dataset.cursor = step === null ? "" : String(step);
    if (view.metrics) render(view.metrics);
  };
  fetchNow();
  return { panel, refresh, mark, close: () => clearTimeout(load.timer) };
}
