// SVG charts: outcome lines over steps for one or two branches, and sparklines.

import { s, fmtNum, isNumber } from "./dom.js";

/** "Nice" tick values covering [lo, hi]. */
export function niceTicks(lo, hi, count = 4) {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm >= 5 ? 10 : norm >= 2 ? 5 : norm >= 1 ? 2 : 1) * mag;
  const start = Math.floor(lo / step) * step;
  const ticks = [];
  for (let v = start; v <= hi + step * 0.5; v += step) ticks.push(Math.round(v / step) * step);
  if (ticks[ticks.length - 1] < hi) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

function pathOf(points, x, y, stepwise) {
  let d = "";
  points.forEach(([px, py], i) => {
    if (i === 0) d += `M${x(px).toFixed(1)},${y(py).toFixed(1)}`;
    else if (stepwise) d += `H${x(px).toFixed(1)}V${y(py).toFixed(1)}`;
    else d += `L${x(px).toFixed(1)},${y(py).toFixed(1)}`;
  });
  return d;
}

/**
 * A line chart of one metric over steps.
 * @param {{series: {name: string, color: string, points: [number, number][]}[],
 *          marker?: {x: number, label: string}, shared?: number,
 *          boolean?: boolean, width?: number, height?: number, compact?: boolean,
 *          yDomain?: [number, number], yTicks?: number[], cursor?: number,
 *          title?: string, testid?: string}} opts
 *   shared: steps <= shared are common history, drawn once in grey.
 *   cursor: a step to mark with a thin vertical line (the step another view shows).
 */
export function lineChart(opts) {
  const { series, marker, boolean = false, compact = false } = opts;
  const W = opts.width ?? (compact ? 220 : 440);
  const H = opts.height ?? (compact ? 120 : 210);
  const m = compact ? { l: 30, r: 8, t: 8, b: 18 } : { l: 44, r: 14, t: 14, b: 28 };
  const all = series.flatMap((se) => se.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xMin = Math.min(0, ...xs);
  const xMax = Math.max(1, ...xs);
  let yTicks;
  if (boolean) yTicks = [0, 1];
  else if (opts.yTicks) yTicks = opts.yTicks;
  else if (opts.yDomain) yTicks = niceTicks(opts.yDomain[0], opts.yDomain[1], compact ? 2 : 4);
  else yTicks = niceTicks(ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1, compact ? 2 : 4);
  const yLo = boolean ? -0.15 : yTicks[0];
  const yHi = boolean ? 1.15 : yTicks[yTicks.length - 1];
  const x = (v) => m.l + ((v - xMin) / (xMax - xMin || 1)) * (W - m.l - m.r);
  const y = (v) => H - m.b - ((v - yLo) / (yHi - yLo || 1)) * (H - m.t - m.b);

  const svg = s("svg", {
    class: `chart${compact ? " chart-compact" : ""}`,
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": opts.title || "chart",
    "data-testid": opts.testid || "chart",
  });
  // grid + y axis labels
  const grid = s("g", { class: "chart-gridlines" });
  const tickStep = yTicks.length > 1 ? Math.abs(yTicks[1] - yTicks[0]) : 1;
  const decimals = Math.max(0, Math.min(6, Math.ceil(-Math.log10(tickStep) - 1e-9)));
  for (const t of yTicks) {
    grid.append(s("line", { x1: m.l, x2: W - m.r, y1: y(t), y2: y(t) }));
    const label = boolean ? (t ? "yes" : "no") : fmtNum(t, { digits: decimals });
    grid.append(s("text", { x: m.l - 6, y: y(t) + 4, class: "chart-ylabel", "text-anchor": "end" }, label));
  }
  svg.append(grid);
  // x axis ticks: every step when few, else spaced
  const span = xMax - xMin;
  const every = span <= 12 ? 1 : span <= 30 ? 5 : Math.ceil(span / 6 / 5) * 5;
  const xAxis = s("g", { class: "chart-xaxis" });
  for (let t = xMin; t <= xMax; t += every) {
    if (compact && t % (every * 2) !== 0 && span > 8) continue;
    xAxis.append(s("text", { x: x(t), y: H - m.b + (compact ? 13 : 17), "text-anchor": "middle" }, String(t)));
  }
  xAxis.append(s("line", { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, class: "chart-baseline" }));
  svg.append(xAxis);

  if (marker && isNumber(marker.x)) {
    const mx = x(marker.x);
    svg.append(s("rect", { x: mx, y: m.t, width: Math.max(0, W - m.r - mx), height: H - m.t - m.b, class: "chart-after" }));
    const g = s("g", { class: "chart-marker", "data-testid": "divergence-marker", "data-step": marker.x });
    g.append(s("line", { x1: mx, x2: mx, y1: m.t - 2, y2: H - m.b }));
    if (!compact && marker.label) {
      const anchorEnd = mx > W - m.r - 90;
      g.append(s("text", { x: anchorEnd ? mx - 5 : mx + 5, y: m.t + 10, "text-anchor": anchorEnd ? "end" : "start" }, marker.label));
    }
    svg.append(g);
  }

  if (isNumber(opts.cursor)) {
    const cx = x(opts.cursor);
    svg.append(s("line", { x1: cx, x2: cx, y1: m.t, y2: H - m.b, class: "chart-cursor", "data-testid": "chart-cursor", "data-step": opts.cursor }));
  }

  const shared = opts.shared;
  const lines = s("g", { class: "chart-lines" });
  series.forEach((se, i) => {
    const pts = [...se.points].sort((a, b) => a[0] - b[0]);
    if (!pts.length) return;
    let own = pts;
    if (isNumber(shared)) {
      own = pts.filter((p) => p[0] >= shared);
      if (i === 0) {
        const common = pts.filter((p) => p[0] <= shared);
        if (common.length > 1)
          lines.append(s("path", { d: pathOf(common, x, y, boolean), class: "chart-line chart-line-shared" }));
      }
    }
    if (own.length > 1 || (own.length === 1 && !isNumber(shared)))
      lines.append(s("path", {
        d: pathOf(own, x, y, boolean),
        class: `chart-line chart-line-${i}`,
        stroke: se.color,
        "data-series": se.name,
      }));
    const last = pts[pts.length - 1];
    lines.append(s("circle", { cx: x(last[0]), cy: y(last[1]), r: compact ? 2.5 : 3.5, fill: se.color, class: "chart-end" },
      s("title", {}, `${se.name}: ${boolean ? (last[1] ? "yes" : "no") : fmtNum(last[1])} at step ${last[0]}`)));
  });
  svg.append(lines);
  return svg;
}

/** A tiny trend line (no axes) for the live outcomes panel. */
export function sparkline(points, { width = 96, height = 26, color = "#3f5bd8", boolean = false } = {}) {
  const svg = s("svg", { class: "spark", viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true" });
  if (points.length < 2) return svg;
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  let y0 = boolean ? 0 : Math.min(...ys);
  let y1 = boolean ? 1 : Math.max(...ys);
  if (y1 - y0 < 1e-9) {
    y0 -= 1;
    y1 += 1;
  }
  const x = (v) => 2 + ((v - x0) / (x1 - x0 || 1)) * (width - 4);
  const y = (v) => height - 3 - ((v - y0) / (y1 - y0)) * (height - 6);
  svg.append(s("path", { d: pathOf(points, x, y, boolean), stroke: color, class: "spark-line" }));
  const last = points[points.length - 1];
  svg.append(s("circle", { cx: x(last[0]), cy: y(last[1]), r: 2.2, fill: color }));
  return svg;
}
