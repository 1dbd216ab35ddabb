// The compare view: two branches side by side — where they split, outcome charts over steps,
// the outcome table with deltas, state differences, and what each did after the split.

import { h, clear, fmtNum, fmtValue, humanise, isNumber, shortId, A_COLOR, B_COLOR } from "./dom.js";
import { api } from "./api.js";
import { lineChart } from "./charts.js";
import { Transcript } from "./transcript.js";
import { usageCompare } from "./usage.js";
import { memoryOptions } from "./memory.js";

function asNumber(v) {
  if (typeof v === "boolean") return v ? 1 : 0;
  return isNumber(v) ? v : null;
}

/** name -> {kind: "scalar"|"boolean"|"agents", agents?: string[]} from the series values. */
function metricKinds(seriesList) {
  const kinds = new Map();
  for (const series of seriesList) {
    for (const point of series) {
      for (const [name, v] of Object.entries(point.outcomes || {})) {
        if (v === null || v === undefined) continue; // not defined yet at this step
        if (typeof v === "object" && !Array.isArray(v)) {
          const k = kinds.get(name) || { kind: "agents", agents: new Set(), numeric: false };
          if (k.kind !== "agents") continue;
          for (const [agent, x] of Object.entries(v)) {
            k.agents.add(agent);
            if (asNumber(x) !== null) k.numeric = true;
          }
          kinds.set(name, k);
        } else if (typeof v === "boolean") {
          if (!kinds.has(name)) kinds.set(name, { kind: "boolean", numeric: true });
        } else if (isNumber(v)) {
          const k = kinds.get(name);
          if (!k || k.kind === "boolean" || k.kind === "other") kinds.set(name, { kind: "scalar", numeric: true });
        } else if (!kinds.has(name)) {
          kinds.set(name, { kind: "other", numeric: false });
        }
      }
    }
  }
  return kinds;
}

function pointsOf(series, name, agent) {
  const pts = [];
  for (const p of series) {
    let v = p.outcomes?.[name];
    if (agent !== undefined) v = v && typeof v === "object" ? v[agent] : undefined;
    const n = asNumber(v);
    if (n !== null && isNumber(p.step)) pts.push([p.step, n]);
  }
  return pts;
}

function deltaCell(va, vb, d) {
  if (typeof va === "boolean" || typeof vb === "boolean") {
    if (va === vb) return h("td", { class: "num delta delta-zero" }, "same");
    return h("td", { class: "num delta delta-changed" }, `${fmtValue(va)} → ${fmtValue(vb)}`);
  }
  if (isNumber(d)) {
    if (Math.abs(d) < 1e-9) return h("td", { class: "num delta delta-zero" }, "0");
    return h("td", { class: `num delta ${d > 0 ? "delta-up" : "delta-down"}` }, `${d > 0 ? "▲" : "▼"} ${fmtNum(Math.abs(d))}`);
  }
  if (JSON.stringify(va) === JSON.stringify(vb)) return h("td", { class: "num delta delta-zero" }, "same");
  return h("td", { class: "num delta delta-changed" }, "changed");
}

function branchBadge(which, branch) {
  return h("span", { class: `badge badge-${which.toLowerCase()}`, "data-testid": `compare-badge-${which.toLowerCase()}` },
    h("span", { class: "badge-letter" }, which),
    h("span", { class: "badge-label" }, branch?.label || shortId(branch?.id)),
    h("span", { class: "badge-meta" }, `${branch?.status || ""} · step ${branch?.head_step ?? "?"}`));
}

/**
 * @param {HTMLElement} root
 * @param {{a: string, b: string, branches: Map<string, object>, agents: Map<string, object>,
 *          navigate: (hash: string) => void, alive: () => boolean}} ctx
 */
export async function renderCompare(root, ctx) {
  const { a, b, branches, agents } = ctx;
  const ba = branches.get(a);
  const bb = branches.get(b);
  clear(root);
  const view = h("div", { class: "compare", "data-testid": "compare-view" });
  root.append(view);
  view.append(h("div", { class: "compare-head" },
    h("div", {},
      h("h1", {}, "Compare two futures"),
      h("div", { class: "vs" }, branchBadge("A", ba), h("span", { class: "vs-word" }, "vs"), branchBadge("B", bb))),
    h("div", { class: "compare-actions" },
      h("button", { class: "btn btn-ghost", type: "button", "data-testid": "compare-swap", onclick: () => ctx.navigate(`#/compare/${b}/${a}`) }, "⇄ Swap"),
      h("button", { class: "btn", type: "button", "data-testid": "open-a", onclick: () => ctx.navigate(`#/b/${a}`) }, "Open A"),
      h("button", { class: "btn", type: "button", "data-testid": "open-b", onclick: () => ctx.navigate(`#/b/${b}`) }, "Open B"))));
  const loading = h("div", { class: "loading" }, h("span", { class: "spinner" }), "Comparing…");
  view.append(loading);

  // usage is extra: the comparison stands without it
  const usageOf = (id) => api.usage(id).catch(() => null);
  const [cmp, seriesA, seriesB, usageA, usageB] = await Promise.all([
    api.compare(a, b), api.series(a), api.series(b), usageOf(a), usageOf(b)]);
  if (!ctx.alive()) return;
  loading.remove();
  const divStep = cmp.divergence_step;
  const divSeq = cmp.divergence_seq;
  const ancestor = cmp.common_ancestor ? branches.get(cmp.common_ancestor) : null;

  view.append(h("div", { class: "stat-cards" },
    h("div", { class: "stat stat-accent" },
      h("div", { class: "stat-k" }, "Diverged at"),
      h("div", { class: "stat-v", "data-testid": "divergence-step", "data-step": divStep ?? "" }, isNumber(divStep) ? `step ${divStep}` : "identical"),
      h("div", { class: "stat-s" }, isNumber(divSeq) ? `first different event: #${divSeq}` : "no event differs")),
    h("div", { class: "stat" },
      h("div", { class: "stat-k" }, "Common ancestor"),
      h("div", { class: "stat-v" }, ancestor ? ancestor.label : cmp.common_ancestor ? shortId(cmp.common_ancestor) : "none"),
      h("div", { class: "stat-s" }, cmp.common_ancestor ? shortId(cmp.common_ancestor) : "unrelated branches")),
    h("div", { class: "stat" },
      h("div", { class: "stat-k" }, h("span", { class: "dot", style: { background: A_COLOR } }), "Only in A"),
      h("div", { class: "stat-v" }, fmtNum(cmp.only_a_count ?? 0)), h("div", { class: "stat-s" }, "events since the split")),
    h("div", { class: "stat" },
      h("div", { class: "stat-k" }, h("span", { class: "dot", style: { background: B_COLOR } }), "Only in B"),
      h("div", { class: "stat-v" }, fmtNum(cmp.only_b_count ?? 0)), h("div", { class: "stat-s" }, "events since the split"))));

  // ---- charts
  const labelA = ba?.label || "A";
  const labelB = bb?.label || "B";
  const shared = isNumber(divStep) ? divStep - 1 : undefined;
  const marker = isNumber(divStep) ? { x: divStep, label: `diverged · step ${divStep}` } : undefined;
  const legend = h("div", { class: "legend" },
    h("span", {}, h("span", { class: "swatch", style: { background: A_COLOR } }), `A · ${labelA}`),
    h("span", {}, h("span", { class: "swatch", style: { background: B_COLOR } }), `B · ${labelB}`),
    isNumber(divStep) ? h("span", {}, h("span", { class: "swatch swatch-shared" }), "shared history") : null,
    isNumber(divStep) ? h("span", {}, h("span", { class: "swatch swatch-marker" }), "divergence") : null);

  const kinds = metricKinds([seriesA || [], seriesB || []]);
  const scalarCards = [];
  const agentPanels = [];
  if (Array.isArray(cmp.divergence_series) && cmp.divergence_series.length) {
    const pts = cmp.divergence_series.filter((p) => isNumber(p[0]) && isNumber(p[1]));
    scalarCards.push(h("figure", { class: "chart-card", "data-testid": "chart-card", "data-metric": "divergence" },
      h("figcaption", {}, h("strong", {}, "Divergence"), h("span", { class: "muted" }, " outcome distance, 0 = same")),
      lineChart({ series: [{ name: "distance", color: "#7048c8", points: pts }], marker, yDomain: [0, Math.max(0.1, ...pts.map((p) => p[1]))], title: "divergence over steps" })));
  }
  for (const [name, k] of kinds) {
    if (k.kind === "scalar" || k.kind === "boolean") {
      const series = [
        { name: `A · ${labelA}`, color: A_COLOR, points: pointsOf(seriesA, name) },
        { name: `B · ${labelB}`, color: B_COLOR, points: pointsOf(seriesB, name) },
      ];
      scalarCards.push(h("figure", { class: "chart-card", "data-testid": "chart-card", "data-metric": name },
        h("figcaption", {}, h("strong", {}, humanise(name)), k.kind === "boolean" ? h("span", { class: "muted" }, " yes / no") : null),
        lineChart({ series, marker, shared, boolean: k.kind === "boolean", title: `${name} over steps` })));
    } else if (k.kind === "agents" && k.numeric) {
      const ids = [...k.agents];
      const all = ids.flatMap((ag) => [...pointsOf(seriesA, name, ag), ...pointsOf(seriesB, name, ag)].map((p) => p[1]));
      const lo = Math.min(...all);
      const hi = Math.max(...all);
      // mean over agents, then small multiples per agent on one shared scale
      const mean = (series) => (series || []).map((p) => {
        const v = p.outcomes?.[name];
        const xs = v && typeof v === "object" ? Object.values(v).map(asNumber).filter((x) => x !== null) : [];
        return xs.length ? [p.step, xs.reduce((s, x) => s + x, 0) / xs.length] : null;
      }).filter(Boolean);
      scalarCards.push(h("figure", { class: "chart-card", "data-testid": "chart-card", "data-metric": `${name}-mean` },
        h("figcaption", {}, h("strong", {}, `${humanise(name)}`), h("span", { class: "muted" }, " mean over agents")),
        lineChart({ series: [{ name: `A · ${labelA}`, color: A_COLOR, points: mean(seriesA) }, { name: `B · ${labelB}`, color: B_COLOR, points: mean(seriesB) }], marker, shared, title: `mean ${name}` })));
      const multiples = ids.map((ag) => {
        const agent = agents.get(ag);
        return h("figure", { class: "multiple", "data-testid": "chart-multiple", "data-agent": ag },
          h("figcaption", {}, h("span", { class: "dot", style: { background: agent?.color || "#888" } }), agent?.name || ag),
          lineChart({
            compact: true,
            series: [{ name: `A · ${labelA}`, color: A_COLOR, points: pointsOf(seriesA, name, ag) }, { name: `B · ${labelB}`, color: B_COLOR, points: pointsOf(seriesB, name, ag) }],
            marker, shared, yDomain: [lo, hi], title: `${name} of ${agent?.name || ag}`, testid: "chart",
          }));
      });
      agentPanels.push(h("section", { class: "panel", "data-testid": "per-agent-panel" },
        h("div", { class: "panel-head" }, h("h2", {}, `${humanise(name)} by agent`), h("span", { class: "muted" }, "same scale for every agent")),
        h("div", { class: "multiples" }, multiples)));
    }
  }
  view.append(h("section", { class: "panel", "data-testid": "charts-panel" },
    h("div", { class: "panel-head" }, h("h2", {}, "Outcomes over steps"), legend),
    scalarCards.length ? h("div", { class: "chart-grid" }, scalarCards) : h("p", { class: "muted" }, "No numeric outcomes to chart.")));
  view.append(...agentPanels);

  // ---- outcome table
  const names = [...new Set([...Object.keys(cmp.outcomes_a || {}), ...Object.keys(cmp.outcomes_b || {})])];
  const rows = [];
  for (const name of names) {
    const va = cmp.outcomes_a?.[name];
    const vb = cmp.outcomes_b?.[name];
    const d = cmp.outcome_deltas?.[name];
    if ((va && typeof va === "object") || (vb && typeof vb === "object")) {
      rows.push(h("tr", { class: "group-row" }, h("th", { colspan: 4, scope: "rowgroup" }, humanise(name))));
      const ids = [...new Set([...Object.keys(va || {}), ...Object.keys(vb || {})])];
      for (const ag of ids) {
        const agent = agents.get(ag);
        rows.push(h("tr", { class: "sub-row", "data-testid": "outcome-row", "data-metric": `${name}.${ag}` },
          h("th", { scope: "row" }, h("span", { class: "dot", style: { background: agent?.color || "#999" } }), agent?.name || ag),
          h("td", { class: "num" }, fmtValue(va?.[ag])), h("td", { class: "num" }, fmtValue(vb?.[ag])),
          deltaCell(va?.[ag], vb?.[ag], d && typeof d === "object" && !Array.isArray(d) ? d[ag] : undefined)));
      }
    } else {
      rows.push(h("tr", { "data-testid": "outcome-row", "data-metric": name },
        h("th", { scope: "row" }, humanise(name)),
        h("td", { class: `num${typeof va === "boolean" ? (va ? " yes" : " no") : ""}` }, fmtValue(va)),
        h("td", { class: `num${typeof vb === "boolean" ? (vb ? " yes" : " no") : ""}` }, fmtValue(vb)),
        deltaCell(va, vb, d)));
    }
  }
  const outcomeTable = h("table", { class: "table", "data-testid": "outcome-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "outcome"), h("th", { class: "num" }, h("span", { class: "dot", style: { background: A_COLOR } }), labelA),
      h("th", { class: "num" }, h("span", { class: "dot", style: { background: B_COLOR } }), labelB), h("th", { class: "num" }, "Δ B − A"))),
    h("tbody", {}, rows));

  const diffs = Object.entries(cmp.world_diff || {});
  const diffTable = diffs.length
    ? h("table", { class: "table", "data-testid": "state-diff" },
      h("thead", {}, h("tr", {}, h("th", {}, "state at the heads"), h("th", { class: "num" }, "A"), h("th", { class: "num" }, "B"))),
      h("tbody", {}, diffs.slice(0, 60).map(([k, pair]) => {
        const [va, vb] = Array.isArray(pair) ? pair : [pair?.a, pair?.b];
        const m = /^agents\.([^.]+)\.(.+)$/.exec(k);
        const label = m ? h("span", {}, h("span", { class: "dot", style: { background: agents.get(m[1])?.color || "#999" } }), `${agents.get(m[1])?.name || m[1]} · ${humanise(m[2])}`) : humanise(k.replace(/^world\./, ""));
        return h("tr", {}, h("th", { scope: "row" }, label), h("td", { class: "num" }, fmtValue(va)), h("td", { class: "num" }, fmtValue(vb)));
      })))
    : h("p", { class: "muted" }, "The two worlds are the same at their heads.");

  const usagePanel = usageCompare(usageA, usageB, { labelA, labelB, colorA: A_COLOR, colorB: B_COLOR });
  view.append(h("div", { class: "two-col" },
    h("div", { class: "col-stack" },
      h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Outcomes at the heads")), h("div", { class: "table-wrap" }, outcomeTable)),
      usagePanel),
    h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "State differences")), h("div", { class: "table-wrap" }, diffTable))));

  // ---- side-by-side transcripts after the split
  if (isNumber(divSeq)) {
    const colA = h("div", { class: "side-transcript", "data-testid": "compare-transcript-a" });
    const colB = h("div", { class: "side-transcript", "data-testid": "compare-transcript-b" });
    view.append(h("section", { class: "panel" },
      h("div", { class: "panel-head" }, h("h2", {}, `After the split (from step ${divStep})`), h("span", { class: "muted" }, "world changes hidden")),
      h("div", { class: "side-by-side" },
        h("div", {}, h("h3", { class: "col-title" }, h("span", { class: "swatch", style: { background: A_COLOR } }), `A · ${labelA}`), colA),
        h("div", {}, h("h3", { class: "col-title" }, h("span", { class: "swatch", style: { background: B_COLOR } }), `B · ${labelB}`), colB))));
    const [evA, evB] = await Promise.all([api.events(a, divSeq, 300), api.events(b, divSeq, 300)]);
    if (!ctx.alive()) return;
    for (const [col, page, id] of [[colA, evA, a], [colB, evB, b]]) {
      const t = new Transcript(col, { agents, compact: true, memory: memoryOptions(ctx.spec, id) });
      col.classList.add("hide-world");
      t.add(page?.events || []);
      col.scrollTop = 0;
    }
  }
}
