// The branch tree as a horizontal "subway map": one line per branch along the step axis;
// a fork leaves its parent's line at the fork step.

import { s, clear, h, shortId } from "./dom.js";
import { treeRoots } from "./api.js";

const ROW = 34;
const TOP = 30;
const LEFT = 18;

/** A rollout set's members are labelled "rollout <set id prefix>#<index>". */
export const ROLLOUT_LABEL = /^rollout ([0-9a-f]{4,})#\d+$/;

/** One row per rollout set instead of one per future (a set may have 2,000 of them); a
 * member that is open, or has forks of its own, keeps its row. */
function foldSets(kids, currentId) {
  const out = [];
  const sets = new Map();
  for (const c of kids) {
    const m = ROLLOUT_LABEL.exec(c.label || "");
    if (!m || c.id === currentId || (c.children || []).length) {
      out.push(c);
      continue;
    }
    let set = sets.get(m[1]);
    if (!set) {
      set = { folded: true, id: `set:${m[1]}`, setPrefix: m[1], label: "", fork_step: c.fork_step,
              head_step: 0, members: [], children: [] };
      sets.set(m[1], set);
      out.push(set);
    }
    set.members.push(c);
    set.head_step = Math.max(set.head_step, c.head_step || 0);
  }
  for (const set of sets.values()) {
    const done = set.members.filter((b) => b.status === "done").length;
    set.status = set.members.some((b) => b.status === "running") ? "running"
      : done === set.members.length ? "done" : set.members.some((b) => b.status === "failed") ? "failed" : "paused";
    set.done = done;
  }
  return out;
}

function layout(tree, currentId) {
  const rows = [];
  const walk = (node, parentRow) => {
    const row = { node, index: rows.length, parentRow };
    rows.push(row);
    const kids = [...(node.children || [])].sort(
      (a, b) => (a.fork_step - b.fork_step) || String(a.created_at || "").localeCompare(String(b.created_at || "")),
    );
    for (const c of foldSets(kids, currentId)) walk(c, row);
  };
  for (const r of treeRoots(tree)) walk(r, null);
  return rows;
}

/**
 * @param {HTMLElement} container
 * @param {object} tree  the /v1/branches/tree answer
 * @param {{currentId?: string, pair?: string[], maxSteps?: number,
 *          onOpen: (id: string, ev: MouseEvent) => void}} opts
 * A rollout set's futures are one row; clicking it opens the set view.
 */
export function renderTree(container, tree, opts) {
  clear(container);
  const rows = layout(tree, opts.currentId);
  if (!rows.length) {
    container.append(h("p", { class: "muted pad" }, "No branches yet."));
    return;
  }
  // The scenario's step limit frames branches that may still grow; finished trees fit their steps.
  const open = rows.some((r) => !["done", "failed"].includes(r.node.status));
  const maxStep = Math.max(1, open ? opts.maxSteps || 0 : 0, ...rows.map((r) => r.node.head_step || 0));
  const width = Math.max(container.clientWidth || 0, 300);
  const narrow = width < 520;
  const labelW = narrow ? Math.max(84, Math.min(130, width * 0.3)) : 200;
  const usable = width - LEFT - labelW;
  const x = (step) => LEFT + (step / maxStep) * usable;
  const y = (i) => TOP + i * ROW + ROW / 2;
  const height = TOP + rows.length * ROW + 6;

  const svg = s("svg", {
    class: "tree-svg",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "tree",
    "aria-label": "Branch tree",
    "data-testid": "tree-svg",
  });

  // step axis
  const axis = s("g", { class: "tree-axis" });
  const every = maxStep <= (narrow ? 8 : 16) ? 1 : maxStep <= 24 ? 2 : maxStep <= 60 ? 5 : 10;
  for (let t = 0; t <= maxStep; t += every) {
    axis.append(s("line", { x1: x(t), x2: x(t), y1: TOP - 6, y2: height - 4, class: "tree-gridline" }));
    axis.append(s("text", { x: x(t), y: TOP - 12, "text-anchor": "middle" }, String(t)));
  }
  if (!narrow) axis.append(s("text", { x: LEFT + usable + 14, y: TOP - 12, class: "tree-axis-title" }, "step"));
  svg.append(axis);

  const pair = opts.pair || [];
  for (const row of rows) {
    const b = row.node;
    const yy = y(row.index);
    const start = row.parentRow ? b.fork_step : 0;
    const end = Math.max(b.head_step || 0, start);
    const current = b.id === opts.currentId;
    const pairIndex = pair.indexOf(b.id);
    const cls = ["tree-branch", `st-${b.status}`];
    if (current) cls.push("current");
    if (pairIndex >= 0) cls.push(pairIndex === 0 ? "pair-a" : "pair-b");
    if (b.folded) cls.push("tree-set");
    const g = s("g", {
      class: cls.join(" "),
      "data-testid": b.folded ? "tree-set" : "tree-node",
      "data-branch-id": b.id,
      "data-label": b.label,
      "data-status": b.status,
      tabindex: 0,
      role: "treeitem",
      "aria-selected": current ? "true" : "false",
    });
    const name = b.folded ? `${b.members.length} futures` : b.label || shortId(b.id);
    const meta = b.folded ? `set ${b.setPrefix} · ${b.done} done` : `${b.status} · ${end}`;
    g.append(s("title", {}, b.folded ? `rollout set ${b.setPrefix}: ${b.members.length} futures from step ${b.fork_step} · open the set` : `${b.label} · ${b.status} · steps ${start}–${end}${row.parentRow ? ` · forked at step ${b.fork_step}` : ""}`));
    // hit area for the whole row
    g.append(s("rect", { x: 0, y: yy - ROW / 2, width, height: ROW, class: "tree-hit" }));
    if (row.parentRow) {
      const py = y(row.parentRow.index);
      const fx = x(b.fork_step);
      const bend = Math.min(22, Math.max(10, (x(b.fork_step + 1) - fx) * 0.8));
      g.append(s("path", {
        d: `M${fx},${py} C${fx + bend * 0.6},${py} ${fx + bend * 0.2},${yy} ${fx + bend},${yy} L${x(end)},${yy}`,
        class: "tree-line",
      }));
      g.append(s("circle", { cx: fx, cy: py, r: 4.5, class: "tree-junction" }));
    } else {
      g.append(s("line", { x1: x(start), x2: x(end), y1: yy, y2: yy, class: "tree-line" }));
    }
    // stations: one per own step
    const stations = s("g", { class: "tree-stations" });
    for (let st = start + 1; st < end; st += 1) {
      if (x(st) - x(start) < 10) continue;
      stations.append(s("circle", { cx: x(st), cy: yy, r: 2.2 }));
    }
    g.append(stations);
    g.append(s("circle", { cx: x(end), cy: yy, r: current ? 7 : 6, class: "tree-head" }));
    if (b.status === "running") g.append(s("circle", { cx: x(end), cy: yy, r: 7, class: "tree-pulse" }));
    const label = s("text", { x: x(end) + 13, y: yy + 4, class: "tree-label" });
    label.append(s("tspan", { class: "tree-label-name" }, name));
    if (!narrow) label.append(s("tspan", { class: "tree-label-meta", dx: 7 }, meta));
    if (pairIndex >= 0) label.append(s("tspan", { class: "tree-label-pair", dx: 7 }, pairIndex === 0 ? "A" : "B"));
    g.append(label);
    const open = (ev) => (b.folded ? (location.hash = `#/rollouts/${b.setPrefix}`) : opts.onOpen(b.id, ev));
    g.addEventListener("click", open);
    g.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        open(ev);
      }
    });
    svg.append(g);
  }
  container.append(svg);
}
