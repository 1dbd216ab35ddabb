// AegntiX web UI: sign-in, scenario picker, live branch view (transcript, tree, run controls,
// fork dialog), and the compare view. Routes live in the URL fragment:
//   #/                 scenarios and examples
//   #/b/<branch>       one branch, live
//   #/compare/<a>/<b>  two branches side by side
//   #/rollouts/<id>    a rollout set: live progress, effects with CIs, fan charts, its futures
//   #/agents           the start page, at its persistent agents
//   #/agents/<id>      one persistent agent: persona, versions, history, memories
//   #key=<api key>     signs in (then replaced by #/)

import {
  api, allEvents, ApiError, can, clearKey, deniedReason, flattenTree, getKey, loadMe, rightsKnown, setKey,
  treeRoots, whoAmI,
} from "./api.js";
import { BranchStream } from "./stream.js";
import { renderTree, ROLLOUT_LABEL } from "./tree.js";
import { Transcript, forkIcon } from "./transcript.js";
import { openForkDialog, showProblem } from "./forkform.js";
import { renderCompare } from "./compare.js";
import { sparkline } from "./charts.js";
import { noteModels, renderUsage } from "./usage.js";
import { agentsSection, closeAgentDialogs, showProfile } from "./agents.js";
import { loadMeta, metaLoaded } from "./meta.js";
import { renderExamples } from "./examples.js";
import { hasNetwork, networkPanel } from "./network.js";
import { emergencePanel } from "./emergence.js";
import { hasTools, toolsPanel } from "./tools.js";
import { futures, rolloutSetsPanel, rolloutSetsSection, showRollouts } from "./rollouts.js";
import { driftSummary, fmtScore, keepExperience, memoryOn, memoryOptions, persistentBadge } from "./memory.js";
import {
  AGENT_COLORS, clear, fmtNum, fmtStance, fmtValue, h, humanise, initials, isNumber, setDenied, shortId,
  stanceBar, stanceWord, timeAgo, toast, clearToasts,
} from "./dom.js";

const view = document.getElementById("view");
const crumbs = document.getElementById("crumbs");
const conn = document.getElementById("conn");
const signout = document.getElementById("signout");
const whoami = document.getElementById("whoami");
const forkDialog = document.getElementById("fork-dialog");

/** Everything that belongs to the screen on show; replaced on navigation. */
let screen = { token: 0, stream: null, cleanup: [] };
const scenarios = new Map(); // id -> {record, agents: Map, agentList}
let pendingAutoRun = null; // a branch to run as soon as its view is open
// Usage is refetched at most this often while a branch runs (on step ends and status changes).
const USAGE_REFRESH_MS = 500;

function newScreen() {
  if (screen.stream) screen.stream.close();
  for (const fn of screen.cleanup) fn();
  if (forkDialog.open) forkDialog.close();
  closeAgentDialogs();
  clearToasts();
  screen = { token: screen.token + 1, stream: null, cleanup: [] };
  setConnection(null);
  const token = screen.token;
  return () => screen.token === token;
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function setCrumbs(...items) {
  clear(crumbs);
  items.filter(Boolean).forEach((item, i) => {
    if (i) crumbs.append(h("span", { class: "crumb-sep", "aria-hidden": "true" }, "/"));
    crumbs.append(item.href ? h("a", { href: item.href, class: "crumb" }, item.text) : h("span", { class: "crumb current" }, item.text));
  });
}

function setConnection(state) {
  if (!state) {
    conn.hidden = true;
    return;
  }
  conn.hidden = false;
  conn.className = `conn conn-${state}`;
  conn.dataset.state = state;
  conn.textContent = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", polling: "Polling" }[state] || state;
}

/** The key's role and tenant, discreetly, next to Sign out ("viewer · acme"). */
function renderWho() {
  const me = whoAmI();
  if (!me || !getKey()) {
    whoami.hidden = true;
    clear(whoami);
    return;
  }
  clear(whoami).append(
    h("span", { class: `whoami-role role-${String(me.role).replace(/[^a-z]/g, "")}`, "data-testid": "whoami-role" }, me.role),
    h("span", { class: "whoami-sep", "aria-hidden": "true" }, "·"),
    h("span", { class: "whoami-tenant", "data-testid": "whoami-tenant" }, me.tenant_id));
  whoami.dataset.role = me.role;
  whoami.dataset.tenant = me.tenant_id;
  const may = me.can.filter((a) => a !== "read");
  whoami.title = `Signed in as ${me.role} of tenant “${me.tenant_id}” (key ${me.key_id}): `
    + (may.length ? `may read, ${may.map((a) => a.replace(/_/g, " ")).join(", ")}` : "read-only — you can watch and compare, not change");
  whoami.setAttribute("aria-label", `${me.role} of tenant ${me.tenant_id}`);
  whoami.hidden = false;
}
window.addEventListener("aegntix:rights", renderWho);

/** Turns a write (or delete) control off with the reason as its tooltip; true when it is allowed. */
function gate(el, action, title = "") {
  return setDenied(el, action, deniedReason(action), title);
}

function reportError(err, what, { carry = false } = {}) {
  if (err instanceof ApiError && err.status === 401) return; // the sign-in screen handles it
  const detail = err instanceof ApiError ? err.detail : String(err?.message || err);
  const fields = err instanceof ApiError && err.errors.length ? err.errors.map((e) => `${e.field}: ${e.reason}`).join("; ") : "";
  toast(what || "Something went wrong", { kind: "error", detail: fields ? `${detail} (${fields})` : detail, carry });
}

// ------------------------------------------------------------------------------------------
// scenarios and agents

async function loadScenario(id) {
  if (scenarios.has(id)) return scenarios.get(id);
  const record = await api.scenario(id);
  const spec = record.spec || {};
  const agentList = (spec.agents || []).map((a, i) => ({
    id: a.id,
    name: a.name || a.id,
    role: a.role || "",
    persona: a.persona || {},
    goals: a.goals || [],
    stance: a.stance,
    profile: a.profile || null,
    color: AGENT_COLORS[i % AGENT_COLORS.length],
  }));
  const entry = { record, spec, agentList, agents: new Map(agentList.map((a) => [a.id, a])) };
  scenarios.set(id, entry);
  return entry;
}

function hasStance(entry) {
  return entry.agentList.some((a) => isNumber(a.stance)) || JSON.stringify(entry.spec.outcomes || {}).includes("stance");
}

// ------------------------------------------------------------------------------------------
// sign in

function showSignIn(message) {
  newScreen();
  screen.signIn = true;
  signout.hidden = true;
  renderWho();
  setCrumbs();
  const input = h("input", { type: "password", id: "key", autocomplete: "off", spellcheck: "false", placeholder: "agx_…", "data-testid": "key-input" });
  const problem = h("div", { class: "problem", hidden: !message, role: "alert", "data-testid": "signin-error" }, message || "");
  const form = h("form", { class: "signin card", "data-testid": "signin" },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Paste an API key. ", h("code", {}, "aegntix serve"), " prints one the first time it starts, and ", h("code", {}, "make run"), " prints a link that signs you in."),
    problem,
    h("div", { class: "field" }, h("label", { for: "key" }, "API key"), input),
    h("button", { class: "btn btn-primary", type: "submit", "data-testid": "signin-submit" }, "Sign in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    setKey(key);
    try {
      await loadMe({ force: true });
      navigate("#/");
    } catch (err) {
      clearKey();
      problem.hidden = false;
      problem.textContent = err instanceof ApiError && err.status === 401 ? "That key was not accepted." : err.message;
    }
  });
  clear(view).append(h("div", { class: "center-page" }, form));
  input.focus();
}

window.addEventListener("aegntix:unauthorized", () => {
  if (screen.signIn) return; // the sign-in form reports it itself
  clearKey();
  showSignIn("Your API key was not accepted. Paste a valid key to continue.");
});

// ------------------------------------------------------------------------------------------
// home: examples, upload, existing scenarios

/** A refused upload: every problem the API listed (line, field, reason), in file order. */
function showUploadProblems(box, err, fileName) {
  const errors = err instanceof ApiError ? err.errors : [];
  if (!errors.length) {
    showProblem(h("div"), box, err);
    return;
  }
  clear(box);
  const count = errors.length === 1 ? "a problem" : `${errors.length} problems`;
  box.append(
    h("div", { class: "upload-problems-head" },
      h("strong", {}, `${fileName} has ${count}`),
      h("span", {}, " — nothing was created. Fix the file and upload it again.")),
    h("ol", { class: "upload-problems", "data-testid": "upload-problems" },
      errors.map((fe) => h("li", { "data-testid": "upload-problem" },
        h("span", { class: "problem-where" },
          fe.line != null ? `line ${fe.line}` : "file"),
        h("span", { class: "problem-what" },
          fe.field ? h("code", {}, fe.field) : "",
          h("span", { class: "problem-reason" }, fe.reason || "invalid"))))));
  box.hidden = false;
}

async function showHome({ focus } = {}) {
  const alive = newScreen();
  setCrumbs({ text: "Sandboxes" });
  const agents = agentsSection({ alive, onError: reportError });
  screen.cleanup.push(agents.cleanup);
  const examplesBox = h("div", { class: "example-grid", "data-testid": "examples" }, h("div", { class: "loading" }, h("span", { class: "spinner" }), "Loading examples…"));
  // Examples whose agents think with a language model are listed apart: they need a server.
  const modelBox = h("div", { class: "example-grid", "data-testid": "model-examples" });
  const modelSection = h("section", { class: "home-section", hidden: true, "data-testid": "model-examples-section" },
    h("div", { class: "section-head" }, h("h2", {}, "Needs a model server"),
      h("span", { class: "muted" }, "agents think with a language model: start the server first (see docs/brains.md)")),
    modelBox);
  const listBox = h("div", { "data-testid": "scenario-list" });
  const fileInput = h("input", { type: "file", accept: ".yaml,.yml,.json,application/yaml,application/json", "data-testid": "upload-input", class: "visually-hidden", id: "upload" });
  const uploadProblem = h("div", { class: "problem", hidden: true, role: "alert", "data-testid": "upload-error" });
  const dropText = h("span", { class: "muted", "data-testid": "upload-hint" });
  const drop = h("label", { class: "dropzone", for: "upload", "data-testid": "upload" },
    h("span", { class: "drop-icon", "aria-hidden": "true" }, "⇪"),
    h("strong", {}, "Upload a scenario"),
    dropText,
    fileInput);
  const startButtons = [];
  const readonlyNote = h("p", { class: "readonly-note home-readonly", hidden: true, "data-testid": "home-readonly" });
  const syncRights = () => {
    const ok = gate(fileInput, "write");
    readonlyNote.hidden = ok;
    clear(readonlyNote);
    if (!ok) {
      readonlyNote.append(h("strong", {}, "Read-only. "),
        `${deniedReason("write").replace(/^\w/, (c) => c.toUpperCase())}: you can open, watch and compare the sandboxes below, `
        + "and see the persistent agents; starting, uploading and forking need a key that may write.");
    }
    drop.classList.toggle("denied", !ok);
    drop.title = fileInput.title;
    dropText.textContent = ok
      ? "Drop a .yaml or .json file here, or click to choose one."
      : `Uploading needs a key that may write: ${deniedReason("write")}.`;
    for (const b of startButtons) if (!b.classList.contains("busy")) b.disabled = !gate(b, "write", b.dataset.title);
  };
  syncRights();
  window.addEventListener("aegntix:rights", syncRights);
  screen.cleanup.push(() => window.removeEventListener("aegntix:rights", syncRights));
  const upload = async (file) => {
    if (!file || !can("write")) return;
    drop.classList.add("busy");
    try {
      const res = await api.uploadScenario(file);
      toast(`Created “${res.scenario?.name || file.name}”`, { detail: "Press Run to start it.", carry: true });
      navigate(`#/b/${res.root_branch.id}`);
    } catch (err) {
      showUploadProblems(uploadProblem, err, file.name);
    } finally {
      drop.classList.remove("busy");
      fileInput.value = "";
    }
  };
  fileInput.addEventListener("change", () => upload(fileInput.files[0]));
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    if (can("write")) drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    upload(e.dataTransfer.files[0]);
  });

  clear(view).append(h("div", { class: "home" },
    h("section", { class: "hero" },
      h("h1", {}, "Run a reality sandbox"),
      h("p", {}, "Describe a world and a cast of agents, run it step by step, ",
        h("strong", {}, "fork the timeline at any step"), " with something new for the agents to hear, and ",
        h("strong", {}, "compare how the futures differ"), "."),
      readonlyNote),
    h("section", { class: "home-section" },
      h("div", { class: "section-head" }, h("h2", {}, "Start from an example"), h("span", { class: "muted" }, "runs offline with the deterministic rules brain")),
      examplesBox),
    modelSection,
    agents.section,
    rolloutSetsSection({ navigate, alive }),
    h("section", { class: "home-section" }, h("div", { class: "section-head" }, h("h2", {}, "Your own scenario")), drop, uploadProblem),
    h("section", { class: "home-section" }, h("div", { class: "section-head" }, h("h2", {}, "Your sandboxes")), listBox)));
  if (focus === "agents") agents.section.scrollIntoView({ block: "start" });

  try {
    const [examples, list] = await Promise.all([api.examples(), api.scenarios()]);
    if (!alive()) return;
    const start = async (ex, button) => {
      if (!can("write")) return;
      button.disabled = true;
      button.classList.add("busy");
      try {
        const res = await api.startExample(ex.name);
        if (res.scenario?.name && res.scenario.name !== ex.title) toast(`Started “${res.scenario.name}”`, { carry: true });
        pendingAutoRun = res.root_branch.id;
        navigate(`#/b/${res.root_branch.id}`);
      } catch (err) {
        reportError(err, `Could not start ${ex.name}`);
        button.classList.remove("busy");
        button.disabled = !can("write");
      }
    };
    const open = (branchId, { run }) => {
      if (run && can("write")) pendingAutoRun = branchId;
      navigate(`#/b/${branchId}`);
    };
    const cards = h("div", { class: "example-grid" });
    const modelCards = h("div", { class: "example-grid" });
    startButtons.push(...await renderExamples(cards, modelCards, examples || [], list || [], { open, start }));
    if (!alive()) return;
    clear(examplesBox).append(...cards.childNodes);
    clear(modelBox).append(...modelCards.childNodes);
    modelSection.hidden = !modelBox.childElementCount;
    syncRights();
    if (!examples?.length) examplesBox.append(h("p", { class: "muted" }, "No examples are available on this server."));
    renderScenarioList(listBox, list || []);
  } catch (err) {
    if (!alive()) return;
    clear(examplesBox).append(h("p", { class: "muted" }, "Could not load the examples."));
    reportError(err, "Could not load scenarios");
  }
}

function renderScenarioList(box, list) {
  clear(box);
  if (!list.length) {
    box.append(h("p", { class: "muted empty-note" }, "Nothing yet — start an example above."));
    return;
  }
  const sorted = [...list].sort((x, y) => String(y.created_at || "").localeCompare(String(x.created_at || "")));
  box.append(h("ul", { class: "scenario-list" }, sorted.slice(0, 50).map((sc) => {
    const open = async () => {
      try {
        const roots = treeRoots(await api.tree(sc.id));
        if (roots.length) navigate(`#/b/${roots[0].id}`);
        else toast("This scenario has no branch yet.");
      } catch (err) {
        reportError(err, "Could not open the scenario");
      }
    };
    const agents = Array.isArray(sc.agents) ? sc.agents.length : sc.spec?.agents?.length ?? null;
    return h("li", {},
      h("button", { type: "button", class: "scenario-item", onclick: open, "data-testid": "scenario-item", "data-scenario-id": sc.id },
        h("span", { class: "scenario-text" },
          h("span", { class: "scenario-name" }, sc.name || shortId(sc.id)),
          sc.description ? h("span", { class: "scenario-desc muted" }, sc.description) : null),
        h("span", { class: "muted small scenario-meta" }, [agents !== null ? `${agents} agents` : null, sc.created_at ? timeAgo(sc.created_at) : null].filter(Boolean).join(" · ")),
        h("span", { class: "chev", "aria-hidden": "true" }, "›")));
  })));
}

// ------------------------------------------------------------------------------------------
// branch view

function stepLimit(entry) {
  const t = entry.spec.termination || {};
  return isNumber(t.max_steps) ? t.max_steps : null;
}

async function showBranch(branchId) {
  const alive = newScreen();
  const autoRun = pendingAutoRun === branchId;
  pendingAutoRun = null;
  clear(view).append(h("div", { class: "loading page-loading" }, h("span", { class: "spinner" }), "Opening branch…"));
  let branch;
  let entry;
  try {
    branch = await api.branch(branchId);
    entry = await loadScenario(branch.scenario_id);
  } catch (err) {
    if (!alive()) return;
    clear(view).append(h("div", { class: "center-page" }, h("div", { class: "card empty-card" },
      h("h1", {}, "Branch not found"), h("p", { class: "muted" }, err.message), h("a", { class: "btn", href: "#/" }, "Back to sandboxes"))));
    return;
  }
  if (!alive()) return;
  const st = {
    branch,
    entry,
    status: branch.status,
    failure: branch.failure || null, // why the last run failed (type, detail, step)
    statusVersion: 0,
    tree: null,
    flat: [],
    world: {},
    agentState: {},
    outcomes: null,
    outcomeStep: null,
    series: [],
    completed: 0,
    showWorld: false,
    usage: null,
    usageError: "",
    models: new Map(), // agent id -> models named in its decision events
    consistency: {}, // agent id -> consistency with its core persona after its last adaptation
  };
  setCrumbs({ text: "Sandboxes", href: "#/" }, { text: entry.record.name || entry.spec.name }, { text: branch.label || shortId(branch.id) });

  // --- layout
  const statusPill = h("span", { class: "status", "data-testid": "branch-status" });
  const progress = h("span", { class: "progress-text", "data-testid": "branch-progress" });
  const runBtn = h("button", { class: "btn btn-primary", type: "button", "data-testid": "run" }, "▶ Run");
  const pauseBtn = h("button", { class: "btn", type: "button", "data-testid": "pause" }, "❚❚ Pause");
  const stepBtn = h("button", { class: "btn", type: "button", "data-testid": "step" }, "Step ›");
  const compareSelect = h("select", { class: "select", "data-testid": "compare-with", "aria-label": "Branch to compare with" });
  const compareBtn = h("button", { class: "btn", type: "button", "data-testid": "compare-open" }, "Compare");
  const progressBar = h("div", { class: "progress", "aria-hidden": "true" }, h("div", { class: "progress-fill" }));
  const failureBox = h("div", { class: "failure-banner", role: "alert", hidden: true, "data-testid": "branch-failure" });
  // "queued" means no worker process is alive on the database (docs/workers.md): say so
  const queuedBox = h("div", { class: "queued-banner", role: "status", hidden: true, "data-testid": "branch-queued" },
    h("strong", {}, "Waiting for a worker. "),
    "No worker process is running on this database, so the run waits in the queue. Start one with ",
    h("code", {}, "aegntix worker --db …"), " (or ", h("code", {}, "aegntix serve --workers N"),
    "); the run starts as soon as one is up. Pause withdraws it.");
  // persistent agents: keep this branch's experience (button and answer here, status in Agents)
  const persistent = entry.agentList.filter((a) => a.profile?.id);
  const branchLabel = (id) => {
    const known = st.flat.find((b) => b.id === id);
    return known?.label || shortId(id);
  };
  const keep = persistent.length
    ? keepExperience({ branch, scenarioId: branch.scenario_id, agents: persistent, label: branchLabel, denied: () => deniedReason("write") })
    : null;
  const toolbar = h("div", { class: "toolbar", "data-testid": "branch-toolbar" },
    h("div", { class: "toolbar-title" },
      h("span", { class: "branch-icon", "aria-hidden": "true" }, forkIcon()),
      h("h1", { "data-testid": "branch-label" }, branch.label || shortId(branch.id)),
      h("code", { class: "muted small", title: branch.id }, shortId(branch.id)),
      statusPill, progress),
    h("div", { class: "toolbar-actions" },
      h("div", { class: "btn-group" }, runBtn, pauseBtn, stepBtn),
      keep ? keep.button : null,
      h("div", { class: "compare-pick" }, compareSelect, compareBtn)),
    keep ? keep.result : null,
    failureBox,
    queuedBox,
    progressBar);

  const treeBox = h("div", { class: "tree-box", "data-testid": "tree" });
  const treePanel = h("section", { class: "panel tree-panel" },
    h("div", { class: "panel-head" }, h("h2", {}, "Timelines"),
      h("span", { class: "muted small" }, "Click a branch to open it · shift-click to compare it with this one")),
    treeBox);

  const scroller = h("div", { class: "transcript hide-world", "data-testid": "transcript" });
  const forkHint = h("span", { class: "muted small hint-fork", "data-testid": "fork-hint" });
  const worldToggle = h("input", { type: "checkbox", "data-testid": "toggle-world" });
  const jump = h("button", { class: "jump", type: "button", hidden: true, "data-testid": "jump-latest" }, "↓ Latest");
  const mainPanel = h("section", { class: "panel transcript-panel" },
    h("div", { class: "panel-head" },
      h("h2", {}, "Transcript"),
      forkHint,
      h("label", { class: "check small" }, worldToggle, " state changes")),
    scroller, jump);

  const agentsBox = h("ul", { class: "agents", "data-testid": "agents" });
  // who hears whom, drawn when the scenario has a topology other than everyone-hears-everyone
  // what the swarm as a whole does (polarization, clusters, …), when its agents hold stances
  const topologyKind = typeof entry.spec.topology === "string" ? entry.spec.topology : entry.spec.topology?.kind;
  const emergence = hasStance(entry)
    ? emergencePanel(branch.id, { agents: entry.agents, alive, groups: topologyKind === "groups", forkStep: branch.parent_id ? branch.fork_step : null })
    : null;
  if (emergence) screen.cleanup.push(emergence.close);
  const network = hasNetwork(entry.spec)
    ? networkPanel(branch.scenario_id, { branchId: branch.id, agents: entry.agents, alive, onShow: (step) => emergence?.mark(step) })
    : null;
  if (network) screen.cleanup.push(network.close);
  // the scenario's MCP servers: health here, tools, usage from the timeline
  const tools = hasTools(entry.spec) ? toolsPanel(branch.scenario_id, { agents: entry.agents, alive, onError: reportError }) : null;
  if (tools) screen.cleanup.push(tools.close);
  const side = h("aside", { class: "side" },
    h("section", { class: "panel scenario-card" },
      h("h2", {}, entry.spec.name || entry.record.name),
      entry.spec.description ? h("p", { class: "desc" }, entry.spec.description) : null,
      h("dl", { class: "facts" },
        entry.spec.topic ? [h("dt", {}, "topic"), h("dd", {}, entry.spec.topic)] : null,
        h("dt", {}, "turns"), h("dd", {}, humanise(entry.spec.turn_order || "round robin")),
        stepLimit(entry) ? [h("dt", {}, "steps"), h("dd", {}, `up to ${stepLimit(entry)}`)] : null,
        h("dt", {}, "seed"), h("dd", {}, String(branch.seed ?? entry.spec.seed ?? "—")))),
    h("section", { class: "panel", "data-testid": "agents-panel" },
      h("div", { class: "panel-head" }, h("h2", {}, `Agents`), h("span", { class: "muted small" }, `${entry.agentList.length}`)),
      agentsBox, keep ? keep.status : null),
    network ? network.panel : null,
    tools ? tools.panel : null,
    rolloutSetsPanel(branch.id, { navigate, alive }));

  const outcomesBox = h("div", { class: "outcomes", "data-testid": "outcomes" });
  const worldBox = h("dl", { class: "world", "data-testid": "world" });
  const usageBox = h("div", { class: "usage", "data-testid": "usage" });
  const usageModels = h("span", { class: "muted small usage-models", "data-testid": "usage-models" });
  const aside = h("aside", { class: "aside" },
    h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Outcomes"), h("span", { class: "muted small", "data-testid": "outcomes-step" })), outcomesBox),
    emergence ? emergence.panel : null,
    h("section", { class: "panel usage-panel", "data-testid": "usage-panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Usage"), usageModels), usageBox),
    h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "World")), worldBox));

  clear(view).append(h("div", { class: "workspace", "data-testid": "branch-view", "data-branch-id": branch.id },
    h("div", { class: "ws-bar" }, toolbar),
    h("div", { class: "ws-tree" }, treePanel),
    h("div", { class: "ws-side" }, side),
    h("div", { class: "ws-main" }, mainPanel),
    h("div", { class: "ws-aside" }, aside)));

  // --- transcript
  const transcript = new Transcript(scroller, {
    agents: entry.agents,
    onFork: (step) => openFork(step),
    canFork: () => can("write"),
    memory: memoryOptions(entry.spec, branch.id),
  });
  if (branch.parent_id) transcript.setForkStep(branch.fork_step);
  worldToggle.addEventListener("change", () => scroller.classList.toggle("hide-world", !worldToggle.checked));
  scroller.addEventListener("scroll", () => {
    jump.hidden = transcript.nearBottom();
  });
  jump.addEventListener("click", () => {
    scroller.scrollTo({ top: scroller.scrollHeight, behavior: "smooth" });
  });

  // --- panels
  const withMemory = memoryOn(entry.spec);
  const renderAgents = () => {
    clear(agentsBox);
    for (const a of entry.agentList) {
      const own = st.agentState[a.id] || {};
      const stance = isNumber(own.stance) ? own.stance : null;
      const extra = [];
      if (stance !== null) {
        extra.push(h("div", { class: "agent-stance", title: `stance ${fmtStance(stance)} (${stanceWord(stance)})` },
          stanceBar(stance, { wide: true }), h("span", { class: "agent-stance-v" }, fmtStance(stance))));
      }
      if (isNumber(own.offer)) extra.push(h("div", { class: "agent-offer" }, h("span", { class: "muted" }, "offer "), fmtNum(own.offer, { digits: 2 })));
      const traits = Object.entries(a.persona).filter(([, v]) => isNumber(v)).map(([k, v]) => `${k} ${v}`).join(" · ");
      if (withMemory) {
        const start = a.profile?.traits || a.persona;
        const drift = driftSummary(start, own.traits);
        if (drift) {
          const c = st.consistency[a.id];
          extra.push(h("div", { class: "agent-drift", "data-testid": "agent-drift", title: "How the persona drifted in this branch (from where it started)" },
            h("span", { class: "agent-drift-k" }, "drift"), h("span", { class: "agent-drift-v" }, drift),
            isNumber(c) ? h("span", { class: "agent-drift-c" }, `consistency ${fmtScore(c)}`) : null));
        }
      }
      agentsBox.append(h("li", { class: "agent", "data-testid": `agent-${a.id}`, title: [a.goals.join("; "), traits].filter(Boolean).join("\n") },
        h("span", { class: "avatar", style: { background: a.color } }, initials(a.name)),
        h("div", { class: "agent-main" },
          h("div", { class: "agent-name" }, h("span", {}, a.name),
            h("span", { class: "agent-sub" }, h("span", { class: "muted small" }, a.role), persistentBadge(a))),
          extra)));
    }
  };
  const renderOutcomes = () => {
    clear(outcomesBox);
    const label = outcomesBox.parentElement.querySelector("[data-testid=outcomes-step]");
    if (!st.outcomes) {
      label.textContent = "";
      outcomesBox.append(h("p", { class: "muted small" }, "Outcomes appear after the first step."));
      return;
    }
    label.textContent = `after step ${st.outcomeStep}`;
    for (const [name, v] of Object.entries(st.outcomes)) {
      if (v !== null && typeof v === "object") {
        const entries = Object.entries(v);
        outcomesBox.append(h("div", { class: "outcome outcome-agents", "data-testid": "outcome", "data-name": name },
          h("div", { class: "outcome-k" }, humanise(name), h("span", { class: "muted small" }, " per agent")),
          h("div", { class: "outcome-agent-list" }, entries.map(([ag, x]) => {
            const agent = entry.agents.get(ag);
            return h("span", { class: "oa" }, h("span", { class: "dot", style: { background: agent?.color || "#999" } }), h("span", { class: "oa-name" }, agent?.name?.split(" ").slice(-1)[0] || ag), h("span", { class: "oa-v" }, fmtValue(x)));
          }))));
        continue;
      }
      const pts = st.series.map(([step, o]) => [step, typeof o[name] === "boolean" ? (o[name] ? 1 : 0) : o[name]]).filter((p) => isNumber(p[1]));
      const cls = typeof v === "boolean" ? (v ? "yes" : "no") : "";
      outcomesBox.append(h("div", { class: "outcome", "data-testid": "outcome", "data-name": name },
        h("div", { class: "outcome-k" }, humanise(name)),
        h("div", { class: `outcome-v ${cls}` }, fmtValue(v)),
        sparkline(pts, { boolean: typeof v === "boolean" })));
    }
  };
  const renderWorld = () => {
    clear(worldBox);
    const entries = Object.entries(st.world);
    if (!entries.length) worldBox.append(h("p", { class: "muted small" }, "—"));
    for (const [k, v] of entries) {
      worldBox.append(h("div", { class: "world-row" }, h("dt", {}, humanise(k)), h("dd", { title: typeof v === "string" ? v : "" }, fmtValue(v))));
    }
  };

  // --- model usage: fetched on open, then again (coalesced) when a step ends or the status changes
  const renderUsagePanel = () => {
    renderUsage(usageBox, st.usage, {
      agents: entry.agents, agentList: entry.agentList, spec: entry.spec, models: st.models,
      isFork: Boolean(branch.parent_id), error: st.usageError,
    });
    usageModels.textContent = [...new Set([...st.models.values()].flatMap((m) => [...m]))].join(", ");
  };
  const usageLoad = { timer: null, busy: false, again: false };
  const loadUsage = async () => {
    if (usageLoad.busy) {
      usageLoad.again = true; // one more fetch once this one is back
      return;
    }
    usageLoad.busy = true;
    try {
      const report = await api.usage(branch.id);
      if (!alive()) return;
      st.usage = report;
      st.usageError = "";
    } catch (err) {
      if (!alive()) return;
      if (!st.usage) st.usageError = err instanceof ApiError ? `Usage is not available: ${err.detail}` : "Usage is not available.";
    } finally {
      usageLoad.busy = false;
    }
    renderUsagePanel();
    if (usageLoad.again) {
      usageLoad.again = false;
      refreshUsage();
    }
  };
  const refreshUsage = () => {
    if (usageLoad.timer !== null) return; // already due: this change is included
    usageLoad.timer = setTimeout(() => {
      usageLoad.timer = null;
      loadUsage();
    }, USAGE_REFRESH_MS);
  };
  screen.cleanup.push(() => clearTimeout(usageLoad.timer));

  // --- status and controls
  const limit = stepLimit(entry);
  const renderStatus = () => {
    const s = st.status || "idle";
    statusPill.className = `status status-${s}`;
    statusPill.textContent = s;
    statusPill.dataset.status = s;
    const queued = s === "queued"; // started, waiting for a worker: as good as running
    const running = s === "running" || queued;
    const pausing = s === "pausing";
    const failed = s === "failed";
    const finished = s === "done"; // a failed branch may be run again once its cause is fixed
    runBtn.textContent = s === "paused" ? "▶ Resume" : failed ? "↻ Retry" : "▶ Run";
    renderFailure(failed ? st.failure : null);
    queuedBox.hidden = !queued;
    // a key that may not write sees them off, with the reason as the tooltip
    runBtn.disabled = !gate(runBtn, "write") || running || pausing || finished;
    pauseBtn.disabled = !gate(pauseBtn, "write") || !running;
    stepBtn.disabled = !gate(stepBtn, "write", "Run one step") || running || pausing || finished;
    progress.textContent = limit ? `step ${st.completed} of ${limit}` : `step ${st.completed}`;
    const frac = limit ? Math.min(1, st.completed / limit) : finished ? 1 : 0;
    progressBar.firstChild.style.width = `${(s === "done" ? 1 : frac) * 100}%`;
    progressBar.classList.toggle("active", running && !queued);
    toolbar.dataset.status = s;
    if (keep) keep.setRunning(running || pausing);
  };
  // why the run failed, plainly, where the status is (docs paths shown as code)
  const renderFailure = (f) => {
    failureBox.hidden = !f;
    if (!f) return;
    const detail = String(f.detail || "an unknown error");
    const parts = detail.split(/(docs\/[\w-]+\.md)/).map((x, i) => (i % 2 ? h("code", {}, x) : x));
    clear(failureBox).append(
      h("span", { class: "failure-icon", "aria-hidden": "true" }, "!"),
      h("div", { class: "failure-text" },
        h("div", {},
          h("strong", { "data-testid": "branch-failure-title" }, `Run failed at step ${f.step}: `),
          h("span", { "data-testid": "branch-failure-detail" }, parts)),
        h("span", { class: "failure-hint muted" },
          `Nothing of step ${f.step} was written. Fix the cause, then press Retry to continue from step ${Math.max(0, f.step - 1)}.`)));
  };
  // what the key may do: the run controls, the keep button, forking from the transcript
  const syncRights = () => {
    const writable = can("write");
    forkHint.textContent = writable ? "Click a step to fork there" : "Read-only: forking is off";
    forkHint.title = writable ? "" : deniedReason("write").replace(/^\w/, (c) => c.toUpperCase());
    transcript.refreshForking();
    renderStatus();
    if (keep) keep.syncRights();
  };
  window.addEventListener("aegntix:rights", syncRights);
  screen.cleanup.push(() => window.removeEventListener("aegntix:rights", syncRights));
  const setStatus = (s, failure) => {
    if (s === "failed" && failure && failure !== st.failure) {
      st.failure = failure;
      if (s === st.status) renderStatus();
    } else if (s === "failed" && !st.failure) {
      // the reason is recorded on the branch: fetch it if this message did not carry it
      api.branch(branch.id).then((b) => alive() && b?.failure && setStatus("failed", b.failure), () => {});
    } else if (s && s !== "failed") st.failure = null;
    if (!s || s === st.status) return;
    st.status = s;
    st.statusVersion += 1;
    renderStatus();
    bumpTree();
    refreshTree();
    refreshUsage();
    if (tools) tools.refresh();
  };

  // --- tree
  let treeTimer = null;
  const drawTree = () => {
    if (!st.tree) return;
    renderTree(treeBox, st.tree, {
      currentId: branch.id,
      maxSteps: limit || 0,
      onOpen: (id, ev) => {
        if (ev.shiftKey && id !== branch.id) navigate(comparePath(branch.id, id));
        else if (id !== branch.id) navigate(`#/b/${id}`);
      },
    });
  };
  const fillCompareSelect = () => {
    const prev = compareSelect.value;
    clear(compareSelect);
    // a rollout set's futures are compared from the set view (each against its twin)
    const others = st.flat.filter((b) => b.id !== branch.id && !ROLLOUT_LABEL.test(b.label || ""));
    if (!others.length) {
      compareSelect.append(h("option", { value: "" }, "no other branch yet"));
      compareSelect.disabled = true;
      compareBtn.disabled = true;
      return;
    }
    compareSelect.disabled = false;
    compareBtn.disabled = false;
    for (const b of others) {
      compareSelect.append(h("option", { value: b.id }, `${"  ".repeat(b.depth)}${b.label || shortId(b.id)} · ${b.status}`));
    }
    const preferred = prev && others.some((b) => b.id === prev) ? prev : branch.parent_id && others.some((b) => b.id === branch.parent_id) ? branch.parent_id : others[others.length - 1].id;
    compareSelect.value = preferred;
  };
  const refreshTree = async () => {
    try {
      const tree = await api.tree(branch.scenario_id);
      if (!alive()) return;
      st.tree = tree;
      patchCurrent();
      st.flat = flattenTree(tree);
      drawTree();
      fillCompareSelect();
    } catch (err) {
      if (alive()) reportError(err, "Could not load the branch tree");
    }
  };
  // What this page has seen of its own branch (stream) is newer than a tree fetched earlier.
  const patchCurrent = () => {
    const patch = (n) => {
      if (n.id === branch.id) {
        n.head_step = Math.max(n.head_step || 0, st.completed);
        n.status = st.status;
        return true;
      }
      return (n.children || []).some(patch);
    };
    return st.tree ? treeRoots(st.tree).some(patch) : false;
  };
  const bumpTree = () => {
    // keep the current branch's line growing without refetching on every step
    if (patchCurrent()) {
      clearTimeout(treeTimer);
      treeTimer = setTimeout(drawTree, 60);
    }
  };
  const onResize = () => drawTree();
  window.addEventListener("resize", onResize);
  screen.cleanup.push(() => window.removeEventListener("resize", onResize), () => clearTimeout(treeTimer));

  const comparePath = (x, y) => {
    const order = st.flat.map((b) => b.id);
    const ix = order.indexOf(x);
    const iy = order.indexOf(y);
    return ix >= 0 && iy >= 0 && iy < ix ? `#/compare/${y}/${x}` : `#/compare/${x}/${y}`;
  };
  compareBtn.addEventListener("click", () => {
    if (compareSelect.value) navigate(comparePath(branch.id, compareSelect.value));
  });

  const act = async (fn, what) => {
    const before = st.statusVersion;
    for (const b of [runBtn, pauseBtn, stepBtn]) b.disabled = true;
    try {
      const res = await fn();
      const mine = res && (res.branch_id === branch.id || res.id === branch.id);
      if (alive() && st.statusVersion === before && mine && typeof res.status === "string") {
        // The stream reports status changes too; only use the answer if nothing newer came.
        if (!(st.status === "done" && res.status === "running")) setStatus(res.status);
      }
    } catch (err) {
      reportError(err, what);
    } finally {
      if (alive()) renderStatus();
    }
  };
  runBtn.addEventListener("click", () => {
    if (st.status === "paused") act(() => api.resume(branch.id), "Could not resume");
    else {
      setStatus("running");
      act(() => api.run(branch.id), "Could not run");
    }
  });
  pauseBtn.addEventListener("click", () => act(() => api.pause(branch.id), "Could not pause"));
  stepBtn.addEventListener("click", () => act(() => api.step(branch.id), "Could not step"));

  // --- fork
  const openFork = (step) => {
    if (!can("write")) return;
    openForkDialog(forkDialog, {
      branch: { ...branch, label: branch.label || shortId(branch.id) },
      step,
      agents: entry.agentList,
      hasStance: hasStance(entry),
      submit: async (body, runAfter) => {
        const child = await api.fork(branch.id, body);
        const id = child.id || child.branch?.id;
        toast(`Forked “${child.label || body.label}” after step ${step}`, { carry: true });
        if (runAfter) {
          try {
            await api.run(id);
          } catch (err) {
            reportError(err, "The fork was created but could not start", { carry: true });
          }
        }
        navigate(`#/b/${id}`);
      },
      submitSet: async (body) => {
        const made = await api.createRollouts(branch.id, body);
        toast(`Running ${futures(made.n)} from step ${step}`, { carry: true, detail: made.control_id ? "and as many control futures without the injection" : undefined });
        navigate(`#/rollouts/${made.id}`);
      },
    });
  };

  // --- events; true when a step ended among them
  const applyEvents = (events) => {
    let stepEnded = false;
    let terminal = false;
    for (const e of events) {
      const p = e.payload || {};
      if (e.kind === "world" && p.set) {
        for (const [k, v] of Object.entries(p.set)) {
          const parts = k.split(".");
          if (parts[0] === "world") st.world[parts.slice(1).join(".")] = v;
          else if (parts[0] === "agents" && parts.length >= 3) {
            (st.agentState[parts[1]] ||= {})[parts.slice(2).join(".")] = v;
          }
        }
      } else if (e.kind === "memory" && p.adaptation?.applied && e.agent_id) {
        st.consistency[e.agent_id] = p.adaptation.consistency;
      } else if (e.kind === "system" && p.type === "step_end") {
        st.outcomes = p.outcomes || {};
        st.outcomeStep = e.step;
        st.series.push([e.step, st.outcomes]);
        st.completed = Math.max(st.completed, e.step);
        stepEnded = true;
        if (p.terminal) terminal = true;
      }
    }
    noteModels(st.models, events);
    transcript.add(events);
    if (network) network.update(st.agentState, events);
    renderAgents();
    renderWorld();
    if (stepEnded) {
      renderOutcomes();
      bumpTree();
      if (tools) tools.refresh();
      if (emergence) emergence.refresh();
    }
    if (terminal && st.status === "running") {
      // the status message follows; reflect the end at once
      setStatus("done");
    }
    renderStatus();
    return stepEnded;
  };

  renderAgents();
  renderOutcomes();
  renderWorld();
  renderUsagePanel();
  syncRights();
  refreshTree();
  try {
    const history = await allEvents(branch.id, 1);
    if (!alive()) return;
    applyEvents(history);
    scroller.scrollTop = scroller.scrollHeight;
  } catch (err) {
    if (alive()) reportError(err, "Could not load the transcript");
  }
  if (!alive()) return;
  loadUsage();
  screen.stream = new BranchStream(branch.id, {
    fromSeq: transcript.lastSeq + 1,
    onEvents: (events) => {
      if (alive() && applyEvents(events)) refreshUsage();
    },
    onStatus: (s, msg) => alive() && setStatus(s, msg?.failure),
    onConnection: (c) => alive() && setConnection(c),
    onFatal: (code, reason) => {
      if (!alive()) return;
      if (code === 4401) window.dispatchEvent(new CustomEvent("aegntix:unauthorized"));
      else toast("The live stream stopped", { kind: "error", detail: reason });
    },
  }).start();
  if (autoRun && st.status === "idle" && can("write")) {
    // Start once the stream is subscribed, so the run is seen live rather than replayed.
    await Promise.race([screen.stream.ready, new Promise((r) => setTimeout(r, 2000))]);
    if (!alive()) return;
    setStatus("running");
    act(() => api.run(branch.id), "Could not run");
  }
}

// ------------------------------------------------------------------------------------------
// compare view

async function showCompare(a, b) {
  const alive = newScreen();
  clear(view).append(h("div", { class: "loading page-loading" }, h("span", { class: "spinner" }), "Loading…"));
  try {
    const branchA = await api.branch(a);
    const entry = await loadScenario(branchA.scenario_id);
    const tree = await api.tree(branchA.scenario_id);
    if (!alive()) return;
    const flat = flattenTree(tree);
    const branches = new Map(flat.map((x) => [x.id, x]));
    if (!branches.has(a)) branches.set(a, branchA);
    if (!branches.has(b)) branches.set(b, await api.branch(b));
    setCrumbs({ text: "Sandboxes", href: "#/" }, { text: entry.record.name || entry.spec.name, href: `#/b/${a}` }, { text: "Compare" });
    const page = h("div", { class: "compare-page" });
    const treeBox = h("div", { class: "tree-box", "data-testid": "tree" });
    clear(view).append(page);
    await renderCompare(page, { a, b, branches, agents: entry.agents, spec: entry.spec, navigate, alive });
    if (!alive()) return;
    // the tree, with A and B marked, under the summary
    const charts = page.querySelector("[data-testid=charts-panel]");
    const treePanel = h("section", { class: "panel tree-panel" },
      h("div", { class: "panel-head" }, h("h2", {}, "Timelines"), h("span", { class: "muted small" }, "Click a branch to open it · shift-click to compare it with B")),
      treeBox);
    charts.before(treePanel);
    const draw = () => renderTree(treeBox, tree, {
      pair: [a, b],
      maxSteps: isNumber(entry.spec.termination?.max_steps) ? entry.spec.termination.max_steps : 0,
      onOpen: (id, ev) => navigate(ev.shiftKey && id !== b ? `#/compare/${id}/${b}` : `#/b/${id}`),
    });
    draw();
    window.addEventListener("resize", draw);
    screen.cleanup.push(() => window.removeEventListener("resize", draw));
  } catch (err) {
    if (!alive()) return;
    clear(view).append(h("div", { class: "center-page" }, h("div", { class: "card empty-card" },
      h("h1", {}, "Cannot compare"), h("p", { class: "muted" }, err.message), h("a", { class: "btn", href: "#/" }, "Back to sandboxes"))));
    reportError(err, "Could not compare");
  }
}

// ------------------------------------------------------------------------------------------
// routing

function takeKeyFromUrl() {
  const m = /(?:^#|[#&])key=([^&]+)/.exec(location.hash);
  if (!m) return;
  setKey(decodeURIComponent(m[1]));
  history.replaceState(null, "", `${location.pathname}${location.search}#/`);
}

let routing = 0;
async function route() {
  takeKeyFromUrl();
  if (!getKey()) {
    showSignIn();
    return;
  }
  signout.hidden = false;
  if (!rightsKnown()) {
    // What this key may do, once, before any view offers a control.
    const mine = ++routing;
    try {
      await loadMe();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return; // back at the sign-in form
      // otherwise the rights stay unknown: everything is offered, refusals are shown
    }
    if (mine !== routing || !getKey()) return; // a newer navigation took over
  }
  if (!metaLoaded()) {
    // strategies, traits, brain kinds: what the views offer comes from the server
    const mine = ++routing;
    await loadMeta().catch(() => null); // unreachable: the views show what they can
    if (mine !== routing || !getKey()) return;
  }
  renderWho();
  const path = location.hash.replace(/^#/, "") || "/";
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "b" && parts[1]) showBranch(parts[1]);
  else if (parts[0] === "compare" && parts[1] && parts[2]) showCompare(parts[1], parts[2]);
  else if (parts[0] === "rollouts" && parts[1]) {
    const alive = newScreen();
    showRollouts(view, parts[1], {
      alive, navigate, setCrumbs, loadScenario, onError: reportError,
      setConnection: (c) => alive() && setConnection(c),
      onStream: (stream) => {
        if (!alive()) return stream.close();
        if (screen.stream && screen.stream !== stream) screen.stream.close();
        screen.stream = stream;
      },
    });
  }
  else if (parts[0] === "agents" && parts[1]) {
    const alive = newScreen();
    showProfile(view, parts[1], { alive, navigate, setCrumbs, cleanup: screen.cleanup, onError: reportError });
  } else showHome({ focus: parts[0] === "agents" ? "agents" : null });
}

signout.addEventListener("click", () => {
  clearKey();
  showSignIn();
});
window.addEventListener("hashchange", route);
route();
