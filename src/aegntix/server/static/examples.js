// The start page's example cards. Start never makes a pointless copy: an example whose latest
// sandbox never ran starts that one; once it has run, the card opens it, and "New run" makes
// another, which the server numbers ("Town hall debate (2)").

import { api, treeRoots } from "./api.js";
import { h, humanise, timeAgo } from "./dom.js";

const ICONS = {
  negotiation: "⇄", "negotiation-llm": "⇄", "town-hall": "◎", "incident-response": "⚑", "persistent-van-sale": "↺",
};

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The sandboxes started from `example` (its title, or its title numbered), newest first. */
export function runsOf(example, scenarios) {
  const title = example.title || example.name;
  const numbered = new RegExp(`^${escapeRegExp(title)} \\(\\d+\\)$`);
  return scenarios
    .filter((s) => s.name === title || numbered.test(s.name || ""))
    .sort((x, y) => String(y.created_at || "").localeCompare(String(x.created_at || "")));
}

/** The latest run's root branch, and whether it was never touched (idle at step 0, no fork). */
async function latest(runs) {
  if (!runs.length) return null;
  const root = treeRoots(await api.tree(runs[0].id))[0];
  if (!root) return null;
  const fresh = root.status === "idle" && !(root.head_step > 0) && !(root.children || []).length;
  return { scenario: runs[0], root, fresh, count: runs.length };
}

/** "Needs a model server at …" under a model-backed example's description. */
function modelNeeds(ex) {
  if (!ex.needs_model) return null;
  const servers = ex.model_servers || [];
  return h("p", { class: "example-needs small", "data-testid": "example-needs" },
    servers.length ? ["Needs a model server at ", servers.map((u, i) => [i ? ", " : "", h("code", {}, u)])] : "Needs a model provider and its API key");
}

/**
 * Fills `box` with a card per offline example and `modelBox` with those that need a model. `open(branchId, {run})` opens a branch (and runs it);
 * `start(example)` creates a new run. Returns the buttons that need the "write" right.
 */
export async function renderExamples(box, modelBox, examples, scenarios, { open, start }) {
  const known = await Promise.all(examples.map((ex) => latest(runsOf(ex, scenarios)).catch(() => null)));
  const writes = [];
  const cards = examples.map((ex, i) => {
    const last = known[i];
    const buttons = [];
    let note = null;
    const startBtn = h("button", { class: "btn btn-primary", type: "button", "data-testid": `example-start-${ex.name}` }, "▶ Start");
    writes.push(startBtn);
    if (last && !last.fresh) {
      // it has run: open it; a new run is the second choice
      startBtn.className = "btn";
      startBtn.textContent = "▶ New run";
      startBtn.dataset.title = "Start another run of this example (numbered)";
      startBtn.addEventListener("click", () => start(ex, startBtn));
      const openBtn = h("button", { class: "btn btn-primary", type: "button", "data-testid": `example-open-${ex.name}`, title: `Open “${last.scenario.name}”` }, "Open");
      openBtn.addEventListener("click", () => open(last.root.id, { run: false }));
      buttons.push(startBtn, openBtn);
      const when = last.scenario.created_at ? timeAgo(last.scenario.created_at) : "";
      note = h("span", { class: "muted small example-runs", "data-testid": `example-runs-${ex.name}`, "data-count": last.count },
        last.count > 1 ? `${last.count} runs · latest ${when}` : `1 run · ${when}`);
    } else if (last) {
      // recorded (e.g. by `serve --examples`) but never run: Start runs that one
      startBtn.dataset.title = "Run this example";
      startBtn.addEventListener("click", () => open(last.root.id, { run: true }));
      buttons.push(startBtn);
    } else {
      startBtn.dataset.title = "Create this scenario and run it";
      startBtn.addEventListener("click", () => start(ex, startBtn));
      buttons.push(startBtn);
    }
    return h("article", { class: `example card${ex.needs_model ? " example-model" : ""}`, "data-testid": `example-${ex.name}` },
      h("div", { class: "example-top" },
        h("span", { class: "example-icon", "aria-hidden": "true" }, ICONS[ex.name] || (ex.needs_model ? "✦" : "◇")),
        h("div", {}, h("h3", {}, ex.title || humanise(ex.name).replace(/^\w/, (c) => c.toUpperCase())), h("code", { class: "muted small" }, ex.file || ""))),
      h("p", { class: "example-desc" }, ex.description || "",
        String(ex.file || "").startsWith("persistent/")
          ? h("span", { class: "example-persistent" }, " With a persistent agent: keep a branch's experience and she brings it to her next scenario.")
          : null),
      modelNeeds(ex),
      h("div", { class: "example-foot" }, note, h("span", { class: "example-actions" }, buttons)));
  });
  cards.forEach((card, i) => (examples[i].needs_model ? modelBox : box).append(card));
  return writes;
}
