// SVG charts of a rollout set's statistics: rates with CI whiskers (yes/no outcomes), strip
// plots with mean and CI (numbers), per-agent effects (dot and whisker), and the fan chart of
// percentile bands over steps with the split step marked.

import { s, fmtNum, isNumber } from "./dom.js";
import { niceTicks } from "./charts.js";

// Drawing widths (viewBox units): the SVGs scale to their card; text keeps about 12px there.
const W = 520;
const FAN_W = 560;

function svgRoot(height, testid, title, width = W) {
  return s("svg", { class: "chart roll-chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, "data-testid": testid });
}

/** Vertical grid lines and labels along the bottom for the ticks of a horizontal axis. */
function xAxis(svg, ticks, x, top, bottom, fmt) {
  const g = s("g", { class: "chart-gridlines" });
  for (const t of ticks) {
    g.append(s("line", { x1: x(t), x2: x(t), y1: top, y2: bottom }));
    g.append(s("text", { x: x(t), y: bottom + 14, class: "chart-ylabel", "text-anchor": "middle" }, fmt(t)));
  }
  svg.append(g);
}

/** A CI whisker: a line from lo to hi with end caps. */
function whisker(x, y, lo, hi, cls, color) {
  const g = s("g", { class: cls, stroke: color });
  g.append(s("line", { x1: x(lo), x2: x(hi), y1: y, y2: y }));
  g.append(s("line", { x1: x(lo), x2: x(lo), y1: y - 5, y2: y + 5 }));
  g.append(s("line", { x1: x(hi), x2: x(hi), y1: y - 5, y2: y + 5 }));
  return g;
}

/** The label of an axis tick (a float that is 0 up to rounding reads "0", not "−0"). */
function tickLabel(t, step, opts = {}) {
  const digits = Math.max(0, Math.min(6, Math.ceil(-Math.log10(step || 1) - 1e-9)));
  return fmtNum(Math.abs(t) < Math.abs(step) * 1e-6 ? 0 : t, { digits, ...opts });
}

function pct(v) {
  return `${Math.round(v * 100)}%`;
}

/**
 * Yes/no outcome: one bar per set (the rate of "yes") with its 95% CI as a whisker.
 * @param {{label: string, color: string, mean: number|null, lo: number|null, hi: number|null, n: number}[]} rows
 */
export function rateChart(rows, { testid = "rate-chart", title = "rates" } = {}) {
  const m = { l: 150, r: 44, t: 8, b: 24 };
  const rowH = 34;
  const H = m.t + rows.length * rowH + m.b;
  const x = (v) => m.l + v * (W - m.l - m.r);
  const svg = svgRoot(H, testid, title);
  xAxis(svg, [0, 0.25, 0.5, 0.75, 1], x, m.t, H - m.b, pct);
  rows.forEach((row, i) => {
    const y = m.t + i * rowH + rowH / 2;
    svg.append(s("text", { x: m.l - 8, y: y + 4, "text-anchor": "end", class: "rc-label" }, row.label));
    if (!isNumber(row.mean)) {
      svg.append(s("text", { x: m.l + 4, y: y + 4, class: "rc-none" }, "no finished futures yet"));
      return;
    }
    svg.append(s("rect", {
      x: x(0), y: y - 8, width: Math.max(1, x(row.mean) - x(0)), height: 16, rx: 2,
      fill: row.color, class: "rc-bar", "data-value": row.mean,
    }, s("title", {}, `${row.label}: ${pct(row.mean)} of ${row.n} futures`)));
    if (isNumber(row.lo) && isNumber(row.hi)) svg.append(whisker(x, y, row.lo, row.hi, "rc-ci", "#1b2030"));
    svg.append(s("text", { x: W - m.r + 6, y: y + 4, class: "rc-value" }, pct(row.mean)));
  });
  return svg;
}

/** A stable jitter in [-1, 1] for dot i (no randomness: the same picture every time). */
function jitter(i) {
  const v = Math.sin((i + 1) * 12.9898) * 43758.5453;
  return (v - Math.floor(v)) * 2 - 1;
}

/**
 * Number outcome: each set's futures as dots on one row, its mean (diamond) and 95% CI.
 * @param {{label: string, color: string, values: number[], mean: number|null, lo: number|null, hi: number|null}[]} rows
 */
export function stripChart(rows, { testid = "strip-chart", title = "distribution" } = {}) {
  const m = { l: 150, r: 16, t: 8, b: 24 };
  const rowH = 44;
  const H = m.t + rows.length * rowH + m.b;
  const all = rows.flatMap((r) => [...r.values, r.lo, r.hi]).filter(isNumber);
  const ticks = niceTicks(all.length ? Math.min(...all) : 0, all.length ? Math.max(...all) : 1, 4);
  const lo = ticks[0];
  const hi = ticks[ticks.length - 1];
  const x = (v) => m.l + ((v - lo) / (hi - lo || 1)) * (W - m.l - m.r);
  const step = Math.abs(ticks[1] - ticks[0]) || 1;
  const svg = svgRoot(H, testid, title);
  xAxis(svg, ticks, x, m.t, H - m.b, (t) => tickLabel(t, step));
  rows.forEach((row, i) => {
    const y = m.t + i * rowH + rowH / 2;
    svg.append(s("text", { x: m.l - 8, y: y + 4, "text-anchor": "end", class: "rc-label" }, row.label));
    if (!row.values.length) {
      svg.append(s("text", { x: m.l + 4, y: y + 4, class: "rc-none" }, "no finished futures yet"));
      return;
    }
    const dots = s("g", { class: "sc-dots", fill: row.color });
    row.values.forEach((v, k) => dots.append(s("circle", { cx: x(v), cy: y - 8 + jitter(k) * 6, r: 3, class: "sc-dot" })));
    svg.append(dots);
    if (isNumber(row.lo) && isNumber(row.hi)) svg.append(whisker(x, y + 10, row.lo, row.hi, "sc-ci", "#1b2030"));
    if (isNumber(row.mean)) {
      const cx = x(row.mean);
      svg.append(s("path", { d: `M${cx},${y + 5}l5,5l-5,5l-5,-5z`, class: "sc-mean", fill: row.color },
        s("title", {}, `${row.label}: mean ${fmtNum(row.mean)}`)));
    }
  });
  return svg;
}

/**
 * Per-agent effects (treated − control, paired) as dots with 95% CI whiskers, sorted.
 * @param {{name: string, difference: number, lo: number|null, hi: number|null, detectable: boolean}[]} agents
 */
export function agentEffectChart(agents, { testid = "agent-chart", title = "per-agent effects" } = {}) {
  const m = { l: 130, r: 56, t: 8, b: 24 };
  const rowH = 22;
  const rows = [...agents].sort((a, b) => b.difference - a.difference);
  const H = m.t + rows.length * rowH + m.b;
  const all = rows.flatMap((r) => [r.difference, r.lo, r.hi]).filter(isNumber);
  const reach = Math.max(1e-9, ...all.map(Math.abs));
  const ticks = niceTicks(Math.min(0, ...all, -reach * 0.1), Math.max(0, ...all, reach * 0.1), 4);
  const lo = ticks[0];
  const hi = ticks[ticks.length - 1];
  const x = (v) => m.l + ((v - lo) / (hi - lo || 1)) * (W - m.l - m.r);
  const step = Math.abs(ticks[1] - ticks[0]) || 1;
  const svg = svgRoot(H, testid, title);
  xAxis(svg, ticks, x, m.t, H - m.b, (t) => tickLabel(t, step, { signed: true }));
  svg.append(s("line", { x1: x(0), x2: x(0), y1: m.t, y2: H - m.b, class: "ae-zero" }));
  rows.forEach((row, i) => {
    const y = m.t + i * rowH + rowH / 2;
    const color = !row.detectable ? "#8d94a6" : row.difference > 0 ? "var(--pos)" : "var(--neg)";
    svg.append(s("text", { x: m.l - 8, y: y + 4, "text-anchor": "end", class: "rc-label" }, row.name));
    if (isNumber(row.lo) && isNumber(row.hi)) svg.append(whisker(x, y, row.lo, row.hi, "ae-ci", color));
    svg.append(s("circle", { cx: x(row.difference), cy: y, r: 4.5, fill: color, class: "ae-dot", "data-agent": row.name },
      s("title", {}, `${row.name}: ${fmtNum(row.difference, { signed: true })}${row.detectable ? "" : " (no detectable effect)"}`)));
    svg.append(s("text", { x: W - m.r + 6, y: y + 4, class: "rc-value" }, fmtNum(row.difference, { signed: true })));
  });
  return svg;
}

function bandPath(lower, upper, x, y, first) {
  const top = upper.map((v, k) => `${k ? "L" : "M"}${x(first + k).toFixed(1)},${y(v).toFixed(1)}`).join("");
  const bottom = lower.map((v, k) => `L${x(first + k).toFixed(1)},${y(v).toFixed(1)}`).reverse().join("");
  return `${top}${bottom}Z`;
}

/**
 * The fan chart of one numeric outcome: per step, the p5–p95 and p25–p75 bands and the median
 * of each set, overlaid; the fork step and the split step marked.
 * @param {{sets: {key: string, label: string, color: string, bands: object}[], forkStep?: number,
 *          split?: number|null, testid?: string, title?: string}} opts
 */
export function fanChart(opts) {
  const H = 220;
  const m = { l: 44, r: 14, t: 16, b: 28 };
  const sets = opts.sets.filter((x) => x.bands && x.bands.steps > 0);
  const first = Math.min(...sets.map((x) => x.bands.first_step ?? 1));
  const last = Math.max(...sets.map((x) => (x.bands.first_step ?? 1) + x.bands.steps - 1));
  const values = sets.flatMap((x) => [...x.bands.values.p5, ...x.bands.values.p95]).filter(isNumber);
  const ticks = niceTicks(Math.min(...values), Math.max(...values), 4);
  const yLo = ticks[0];
  const yHi = ticks[ticks.length - 1];
  const x = (v) => m.l + ((v - first) / (last - first || 1)) * (FAN_W - m.l - m.r);
  const y = (v) => H - m.b - ((v - yLo) / (yHi - yLo || 1)) * (H - m.t - m.b);
  const svg = svgRoot(H, opts.testid || "fan-chart", opts.title || "fan chart", FAN_W);
  const grid = s("g", { class: "chart-gridlines" });
  const step = Math.abs(ticks[1] - ticks[0]) || 1;
  for (const t of ticks) {
    grid.append(s("line", { x1: m.l, x2: FAN_W - m.r, y1: y(t), y2: y(t) }));
    grid.append(s("text", { x: m.l - 6, y: y(t) + 4, class: "chart-ylabel", "text-anchor": "end" }, tickLabel(t, step)));
  }
  svg.append(grid);
  const axis = s("g", { class: "chart-xaxis" });
  const span = last - first;
  const every = span <= 12 ? 1 : span <= 30 ? 5 : Math.ceil(span / 6 / 5) * 5;
  for (let t = first; t <= last; t += every) axis.append(s("text", { x: x(t), y: H - m.b + 17, "text-anchor": "middle" }, String(t)));
  axis.append(s("line", { x1: m.l, x2: FAN_W - m.r, y1: H - m.b, y2: H - m.b, class: "chart-baseline" }));
  svg.append(axis);
  if (isNumber(opts.forkStep) && opts.forkStep >= first) {
    // steps up to the fork are the parent's history, the same in every future
    svg.append(s("rect", { x: m.l, y: m.t, width: Math.max(0, x(Math.min(opts.forkStep, last)) - m.l), height: H - m.t - m.b, class: "fan-history" },
      s("title", {}, `steps 1–${opts.forkStep}: the shared history before the fork`)));
  }
  for (const set of sets) {
    const b = set.bands;
    const f = b.first_step ?? 1;
    const g = s("g", { class: "fan-set", "data-set": set.key });
    g.append(s("path", { d: bandPath(b.values.p5, b.values.p95, x, y, f), fill: set.color, class: "fan-band fan-band-outer" },
      s("title", {}, `${set.label}: 5th–95th percentile`)));
    g.append(s("path", { d: bandPath(b.values.p25, b.values.p75, x, y, f), fill: set.color, class: "fan-band fan-band-inner" },
      s("title", {}, `${set.label}: 25th–75th percentile`)));
    const median = b.values.p50.map((v, k) => `${k ? "L" : "M"}${x(f + k).toFixed(1)},${y(v).toFixed(1)}`).join("");
    g.append(s("path", { d: median, stroke: set.color, class: "fan-median" }));
    svg.append(g);
  }
  if (isNumber(opts.split)) {
    const sx = x(opts.split);
    const g = s("g", { class: "chart-marker fan-split", "data-testid": "split-marker", "data-step": opts.split });
    g.append(s("line", { x1: sx, x2: sx, y1: m.t - 4, y2: H - m.b }));
    const end = sx > FAN_W - m.r - 110;
    g.append(s("text", { x: end ? sx - 5 : sx + 5, y: m.t + 6, "text-anchor": end ? "end" : "start" }, `split at step ${opts.split}`));
    svg.append(g);
  }
  return svg;
}
