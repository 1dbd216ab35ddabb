// The network panel of the branch view: who hears whom (GET /v1/scenarios/{id}/topology) as
// an SVG graph. Each agent's stance is its colour, updated as steps stream in. Who heard what
// (GET /v1/branches/{id}/hearings) at the latest step, or one picked with the slider: the
// edges its messages travelled along, an injection's reach, what a clicked agent heard.

import { api } from "./api.js";
import { clear, fmtStance, h, isNumber, s, stanceWord } from "./dom.js";

const SIZE = 320;
const NEG = [207, 75, 91]; // --neg
const MID = [201, 204, 211];
const POS = [35, 145, 127]; // --pos

/** A stance in -1..1 as a colour between the stylesheet's --neg, grey and --pos. */
export function stanceColor(v) {
  if (!isNumber(v)) return "#e4e6eb";
  const t = Math.max(-1, Math.min(1, v));
  const [a, b] = t < 0 ? [MID, NEG] : [MID, POS];
  const f = Math.abs(t);
  const c = a.map((x, i) => Math.round(x + (b[i] - x) * f));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** Node positions in a SIZE×SIZE box: a tree by level, groups on their own circles, a hub
 *  in the middle, everything else on one circle in file order (a small world's lattice). */
export function layout(topology) {
  const nodes = topology.nodes;
  const n = nodes.length;
  const at = new Map();
  const c = SIZE / 2;
  const circle = (ids, cx, cy, r, start = -Math.PI / 2) => ids.forEach((id, i) => {
    const a = start + (2 * Math.PI * i) / Math.max(1, ids.length);
    at.set(id, [cx + r * Math.cos(a), cy + r * Math.sin(a)]);
  });
  if (topology.kind === "hierarchy") {
    const levels = new Map();
    for (const node of nodes) {
      const l = node.level ?? 0;
      if (!levels.has(l)) levels.set(l, []);
      levels.get(l).push(node.id);
    }
    const depth = Math.max(...levels.keys()) + 1;
    for (const [l, ids] of levels) {
      ids.forEach((id, i) => at.set(id, [((i + 0.5) / ids.length) * SIZE, 24 + (l / Math.max(1, depth - 1)) * (SIZE - 48)]));
    }
  } else if (topology.kind === "groups") {
    const names = [...new Set(nodes.map((node) => node.groups[0] ?? ""))];
    const k = names.length;
    names.forEach((name, g) => {
      const a = -Math.PI / 2 + (2 * Math.PI * g) / Math.max(1, k);
      const ids = nodes.filter((node) => (node.groups[0] ?? "") === name).map((node) => node.id);
      const ring = k > 1 ? SIZE * 0.28 : 0;
      circle(ids, c + ring * Math.cos(a), c + ring * Math.sin(a), k > 1 ? SIZE * 0.17 : SIZE * 0.42);
    });
  } else if (topology.kind === "star" && n > 1) {
    const degree = new Map(nodes.map((node) => [node.id, 0]));
    for (const [a, b] of topology.edges) {
      degree.set(a, degree.get(a) + 1);
      degree.set(b, degree.get(b) + 1);
    }
    const hub = [...degree.entries()].sort((x, y) => y[1] - x[1])[0][0];
    at.set(hub, [c, c]);
    circle(nodes.map((node) => node.id).filter((id) => id !== hub), c, c, SIZE * 0.42);
  } else {
    circle(nodes.map((node) => node.id), c, c, SIZE * 0.44);
  }
  return at;
}

/**
 * The panel; `update(agentState, events)` recolours nodes as steps stream in. Who heard what
 * at the shown step (the latest, or one picked with the step slider) comes from the server
 * (GET /v1/branches/{id}/hearings: the run's own audiences), never from the edges here.
 * @param {string} scenarioId
 * @param {{branchId: string, agents: Map<string, {name: string}>, alive: () => boolean,
 *          onShow?: (step: number|null) => void}} opts  onShow: the step picked (null: latest)
 */
export function networkPanel(scenarioId, { branchId, agents, alive, onShow = () => {} }) {
  const box = h("div", { class: "network-box" }, h("div", { class: "loading" }, h("span", { class: "spinner" }), "Loading the network…"));
  const note = h("span", { class: "muted small", "data-testid": "network-kind" });
  const focusLine = h("p", { class: "network-focus muted small", "data-testid": "network-focus", hidden: true });
  const heardBox = h("div", { class: "network-heard", "data-testid": "network-heard", hidden: true });
  const reachBox = h("div", { class: "network-reach", "data-testid": "network-reach", hidden: true });
  const slider = h("input", { type: "range", min: 0, max: 0, step: 1, value: 0, class: "net-slider", "aria-label": "Step shown", "data-testid": "network-slider" });
  const stepLabel = h("span", { class: "small net-step-label", "data-testid": "network-step" }, "step 0");
  const ringKey = h("span", { class: "nl-key", hidden: true }, h("span", { class: "nl-ring" }), "heard the injection");
  const latestBtn = h("button", { class: "btn btn-small", type: "button", "data-testid": "network-latest", "aria-pressed": "true", title: "Follow the latest step" }, "Latest");
  const panel = h("section", { class: "panel network-panel", "data-testid": "network-panel" },
    h("div", { class: "panel-head" }, h("h2", {}, "Network"), note),
    box,
    h("div", { class: "net-steps" }, stepLabel, slider, latestBtn),
    h("div", { class: "network-legend muted small" },
      h("span", { class: "nl-dot", style: { background: stanceColor(-1) } }), "against",
      h("span", { class: "nl-dot", style: { background: stanceColor(0) } }), "undecided",
      h("span", { class: "nl-dot", style: { background: stanceColor(1) } }), "for",
      h("span", { class: "nl-line" }), "heard this step",
      ringKey),
    reachBox,
    focusLine,
    heardBox);
  const view = { topology: null, circles: new Map(), edges: [], byPair: new Map(), pending: null, focus: null,
    head: 0, shown: 0, follow: true, hearings: null, reachPick: null };
  const nameOf = (id) => view.circles.get(id)?.name || agents.get(id)?.name || id;
  // an edge along which `from` reaches `to` (undirected: either way round)
  const edgeOf = (from, to) => view.byPair.get(`${from}\u0000${to}`) || (view.topology?.directed ? null : view.byPair.get(`${to}\u0000${from}`));

  // who heard what at the shown step: lit edges, injection reach, the focused agent's list
  const paint = () => {
    const data = view.hearings;
    if (!data) return;
    const lit = new Set();
    // a set of the edges drawn (a mesh of many agents draws none)
    const mark = (set, edge) => edge && set.add(edge);
    for (const said of data.said) for (const who of said.hearers) mark(lit, edgeOf(said.agent_id, who));
    const inj = data.injections.find((r) => r.seq === view.reachPick) || data.injections[data.injections.length - 1];
    const reached = new Set(inj ? inj.heard : []);
    const fresh = new Set();
    const spread = new Set();
    for (const w of inj ? inj.waves : []) {
      if (w.step !== data.step) continue;
      for (const a of w.agents) {
        fresh.add(a);
        if (w.via && w.via !== "news") mark(spread, edgeOf(w.via, a));
      }
    }
    const heard = new Set();
    const tellers = new Set(); // whom the focused agent heard (their ring: a short edge hides under the dots)
    if (view.focus !== null) {
      for (const said of data.said) {
        if (!said.hearers.includes(view.focus)) continue;
        tellers.add(said.agent_id);
        mark(heard, edgeOf(said.agent_id, view.focus));
      }
      for (const r of data.injections) {
        for (const w of r.waves) {
          if (w.step !== data.step || !w.via || !w.agents.includes(view.focus)) continue;
          tellers.add(w.via);
          mark(heard, edgeOf(w.via, view.focus));
        }
      }
    }
    for (const e of view.edges) {
      e.line.classList.toggle("net-edge-lit", lit.has(e));
      e.line.classList.toggle("net-edge-spread", spread.has(e));
      e.line.classList.toggle("net-edge-heard", heard.has(e));
    }
    for (const [id, c] of view.circles) {
      c.dot.classList.toggle("net-node-reached", reached.has(id));
      c.dot.classList.toggle("net-node-fresh", fresh.has(id));
      c.dot.classList.toggle("net-node-teller", tellers.has(id));
      const stance = data.stances[id];
      if (isNumber(stance)) {
        c.dot.setAttribute("fill", stanceColor(stance));
        c.dot.dataset.stance = String(stance);
        c.title.textContent = `${c.name}: ${fmtStance(stance)} (${stanceWord(stance)})`;
      }
    }
    panel.dataset.litEdges = String(lit.size);
    renderReach(data, inj);
    renderHeard(data);
  };

  const renderReach = (data, inj) => {
    clear(reachBox).hidden = !data.injections.length;
    ringKey.hidden = !data.injections.length;
    for (const r of data.injections) {
      const now = r.waves.filter((w) => w.step === data.step).reduce((n, w) => n + w.agents.length, 0);
      const row = h("button", { type: "button", class: `net-reach-row${r === inj ? " on" : ""}`, "data-testid": "network-reach-row", "data-seq": r.seq, "data-heard": r.heard.length,
        title: "Mark who has heard this injection", onclick: () => { view.reachPick = r.seq; paint(); } },
        h("span", { class: "net-reach-icon", "aria-hidden": "true" }, "⚡"),
        h("span", { class: "net-reach-text" }, `“${r.text}”`),
        h("span", { class: "muted" }, ` ${r.strategy} · step ${r.step}: heard by ${r.heard.length} of ${view.circles.size}${now ? ` (${now} new)` : ""}`));
      reachBox.append(row);
    }
  };

  const renderHeard = (data) => {
    clear(heardBox).hidden = view.focus === null;
    if (view.focus === null) return;
    const items = data.said.filter((x) => x.hearers.includes(view.focus)).map((x) =>
      h("li", { "data-testid": "network-heard-item", "data-seq": x.seq, "data-speaker": x.agent_id },
        h("span", { class: "nl-dot", style: { background: stanceColor(data.stances[x.agent_id]) } }),
        h("strong", {}, nameOf(x.agent_id)), x.to ? h("span", { class: "muted" }, " (to it)") : null, ": ",
        h("span", { class: "net-heard-text" }, x.text || `(${x.kind})`)));
    for (const r of data.injections) {
      for (const w of r.waves) {
        if (w.step !== data.step || !w.agents.includes(view.focus)) continue;
        const from = w.via && w.via !== "news" ? `via ${nameOf(w.via)}` : w.via === "news" ? "in the news" : r.strategy;
        items.push(h("li", { class: "net-heard-inj", "data-testid": "network-heard-item", "data-seq": w.seq, "data-speaker": w.via || "" },
          h("span", { "aria-hidden": "true" }, "⚡ "), h("strong", {}, `Injection, ${from}`), ": ", h("span", { class: "net-heard-text" }, r.text)));
      }
    }
    heardBox.append(
      h("p", { class: "small" }, `At step ${data.step}, ${nameOf(view.focus)} heard ${items.length ? `${items.length} ${items.length === 1 ? "thing" : "things"}` : "nothing"}${items.length ? " (who from: ringed in blue):" : "."}`),
      items.length ? h("ul", { class: "net-heard-list" }, items) : null);
  };

  // click an agent: its links, named under the graph, and what it heard at the shown step
  const focus = (id) => {
    view.focus = view.focus === id ? null : id;
    const near = new Set();
    for (const { a, b, line } of view.edges) {
      const on = view.focus !== null && (a === view.focus || b === view.focus);
      line.classList.toggle("net-edge-focus", on);
      if (on) near.add(a === view.focus ? b : a);
    }
    for (const [other, c] of view.circles) {
      c.dot.classList.toggle("net-node-focus", other === view.focus);
      c.dot.classList.toggle("net-node-near", near.has(other));
    }
    panel.dataset.focus = view.focus || "";
    focusLine.hidden = view.focus === null;
    if (view.focus !== null) {
      const names = [...near].map(nameOf);
      focusLine.textContent = `${nameOf(view.focus)} is linked to ${names.length ? names.join(", ") : "nobody"}.`;
    }
    paint();
    if (view.focus === null) heardBox.hidden = true;
  };

  // the hearings of the shown step: one request at a time, the latest wish wins
  const load = { busy: false, again: false, timer: null, took: 0 };
  const fetchShown = async () => {
    if (load.busy) {
      load.again = true;
      return;
    }
    load.busy = true;
    panel.dataset.hearings = "loading";
    let failed = false;
    const began = performance.now();
    try {
      const data = await api.hearings(branchId, view.shown);
      if (!alive()) return;
      if (data.step === view.shown) {
        view.hearings = data;
        panel.dataset.shownStep = String(data.step);
        panel.dataset.hearings = "ready";
        paint();
      }
    } catch (err) {
      failed = true;
      if (alive()) panel.dataset.hearings = "error";
    } finally {
      load.busy = false;
      load.took = performance.now() - began;
    }
    if (alive() && (load.again || (!failed && view.hearings?.step !== view.shown))) {
      load.again = false;
      fetchShown();
    }
  };
  // restart: a pick on the slider waits for the last move; a run's steps throttle instead
  // (a pending fetch fetches whatever is shown by then)
  const show = (step, { follow = view.follow, delay = 120, restart = true } = {}) => {
    view.follow = follow;
    view.shown = Math.max(0, Math.min(view.head, step));
    slider.max = String(view.head);
    slider.value = String(view.shown);
    stepLabel.textContent = `step ${view.shown} of ${view.head}`;
    latestBtn.setAttribute("aria-pressed", String(view.follow));
    latestBtn.disabled = view.follow;
    onShow(view.follow ? null : view.shown);
    if (load.timer !== null && !restart) return;
    clearTimeout(load.timer);
    load.timer = setTimeout(() => {
      load.timer = null;
      fetchShown();
    }, delay);
  };
  slider.addEventListener("input", () => show(Number(slider.value), { follow: Number(slider.value) === view.head }));
  latestBtn.addEventListener("click", () => show(view.head, { follow: true, delay: 0 }));

  const draw = (topology) => {
    const at = layout(topology);
    const n = topology.nodes.length;
    const r = n > 200 ? 2.5 : n > 60 ? 4 : n > 20 ? 7 : 11;
    const svg = s("svg", { class: "network", viewBox: `0 0 ${SIZE} ${SIZE}`, role: "img", "data-testid": "network",
      "aria-label": `${topology.kind.replace(/_/g, " ")} network of ${n} agents` });
    const lines = s("g", { class: "net-edges" });
    const pairs = topology.complete && n <= 60
      ? topology.nodes.flatMap((a, i) => topology.nodes.slice(i + 1).map((b) => [a.id, b.id]))
      : topology.edges;
    for (const [a, b] of pairs) {
      const [x1, y1] = at.get(a);
      const [x2, y2] = at.get(b);
      const line = s("line", { x1, y1, x2, y2, class: "net-edge", "data-a": a, "data-b": b });
      const edge = { a, b, line };
      view.edges.push(edge);
      view.byPair.set(`${a}\u0000${b}`, edge);
      lines.append(line);
    }
    const dots = s("g", { class: "net-nodes" });
    for (const node of topology.nodes) {
      const [cx, cy] = at.get(node.id);
      const title = s("title", {}, node.name);
      const dot = s("circle", { cx, cy, r, class: "net-node", "data-testid": "net-node", "data-agent": node.id, fill: stanceColor(node.stance), onclick: () => focus(node.id) }, title);
      view.circles.set(node.id, { dot, title, name: agents.get(node.id)?.name || node.name });
      dots.append(dot);
    }
    svg.append(lines, dots);
    clear(box).append(svg);
    const kind = topology.kind.replace(/_/g, " ");
    note.textContent = `${kind}${topology.directed ? ", directed" : ""} · ${topology.edges.length || "all"} links`;
  };

  const update = (agentState, events = []) => {
    if (!view.topology) {
      view.pending = { agentState, events: [...(view.pending?.events || []), ...events] };
      return;
    }
    const ended = events.filter((e) => e.kind === "system" && e.payload?.type === "step_end").map((e) => e.step);
    if (ended.length) view.head = Math.max(view.head, ...ended);
    if (view.follow) {
      // live colours at once; the server's hearings of the step follow
      for (const [id, c] of view.circles) {
        const stance = agentState[id]?.stance;
        if (!isNumber(stance)) continue;
        c.dot.setAttribute("fill", stanceColor(stance));
        c.dot.dataset.stance = String(stance);
        c.title.textContent = `${c.name}: ${fmtStance(stance)} (${stanceWord(stance)})`;
      }
    }
    const said = events.filter((e) => e.kind === "message" && e.agent_id);
    if (said.length) panel.dataset.step = String(Math.max(...said.map((e) => e.step)));
    // following a run: wait longer when the server is slow to answer (a big swarm)
    if ((ended.length && view.follow) || view.hearings === null) show(view.follow ? view.head : view.shown, { delay: Math.max(250, 2 * load.took), restart: false });
    else if (ended.length) {
      slider.max = String(view.head); // a step picked stays; the slider reaches the new head
      stepLabel.textContent = `step ${view.shown} of ${view.head}`;
    }
  };

  api.topology(scenarioId).then((topology) => {
    if (!alive()) return;
    view.topology = topology;
    draw(topology);
    panel.dataset.ready = "true";
    update(view.pending?.agentState || {}, view.pending?.events || []);
  }, (err) => {
    if (alive()) clear(box).append(h("p", { class: "muted small" }, `The network is not available: ${err.message}`));
  });
  return { panel, update, close: () => clearTimeout(load.timer) };
}

/** Whether a scenario spec declares a topology worth drawing (not everyone-hears-everyone). */
export function hasNetwork(spec) {
  const t = spec?.topology;
  const kind = typeof t === "string" ? t : t?.kind;
  return Boolean(kind) && kind !== "mesh";
}
