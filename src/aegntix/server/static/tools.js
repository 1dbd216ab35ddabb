// The Tools panel of the branch view (GET /v1/scenarios/{id}/tools): a card per MCP server
// the scenario declares — its health in this server process, restarts and last error, the
// tools it lists, its calls/errors/latency counted from the timeline, and the agents allowed
// to use it. "Check now" (POST …/tools/check, editors and up) starts the servers here and
// pings them.

import { api, can, deniedReason } from "./api.js";
import { clear, h } from "./dom.js";
import { fmtMs } from "./toolrows.js";

/** At most one refetch this often while a branch runs (on step ends and status changes). */
const REFRESH_MS = 1000;

const HEALTH = {
  up: "up",
  starting: "starting",
  down: "down",
  closed: "stopped",
  idle: "idle",
};

/** Whether a scenario spec declares tool servers. */
export function hasTools(spec) {
  const servers = spec?.tools?.servers;
  return Boolean(servers) && Object.keys(servers).length > 0;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function usageLine(u) {
  const parts = [plural(u.calls, "call"), plural(u.errors, "error")];
  if (u.p50_ms !== null && u.p50_ms !== undefined) parts.push(`p50 ${fmtMs(u.p50_ms)}`, `max ${fmtMs(u.max_ms)}`);
  if (u.replayed) parts.push(`${u.replayed} replayed`);
  return parts.join(" · ");
}

function healthWord(s) {
  if (s.status === "idle" && !s.in_process) return "not started here";
  return HEALTH[s.status] || s.status;
}

function agentChips(s, agents) {
  if (!s.agents.length) return h("span", { class: "muted" }, "no agent may use it");
  return s.agents.map((a) => {
    const known = agents.get(a.id);
    const what = a.tools ? (a.tools.length === s.tool_count && s.tool_count ? "all" : a.tools.join(", ") || "none listed") : a.patterns.join(", ");
    return h("span", { class: "tool-agent", "data-agent": a.id, title: `${a.name} may call ${a.patterns.join(", ")}` },
      h("span", { class: "dot", style: { background: known?.color || "#8b93a7" } }),
      h("span", { class: "tool-agent-name" }, known?.name || a.name),
      h("span", { class: "tool-agent-what muted" }, what));
  });
}

function serverCard(s, agents) {
  const word = healthWord(s);
  const tools = s.tools.length
    ? h("details", { class: "tool-list", "data-testid": "tool-list", open: s.tools.length <= 4 },
      h("summary", {}, plural(s.tool_count ?? s.tools.length, "tool")),
      h("ul", {}, s.tools.map((t) => h("li", { "data-tool": t.name },
        h("code", { class: "tool-list-name" }, t.name),
        t.description ? h("span", { class: "tool-list-desc" }, t.description) : null))))
    : h("p", { class: "muted small tool-list-none", "data-testid": "tool-list" },
      s.in_process ? "No tools listed: the server is not up." : "Its tools are listed once it starts here (a run or Check now).");
  return h("article", {
    class: `tool-card tool-card-${s.status}`,
    "data-testid": "tool-server",
    "data-server": s.name,
    "data-status": s.status,
  },
  h("div", { class: "tool-card-head" },
    h("span", { class: `health-dot health-${s.status}`, role: "img", "aria-label": `health: ${word}`, title: word }),
    h("strong", { class: "tool-card-name" }, s.name),
    h("span", { class: "pill pill-transport" }, s.transport),
    h("span", { class: `tool-health health-text-${s.status}`, "data-testid": "tool-health" }, word)),
  h("code", { class: "tool-where", title: s.where }, s.where),
  s.last_error ? h("p", { class: "tool-last-error", "data-testid": "tool-last-error", role: "note" }, s.last_error) : null,
  // not in this process (a worker ran it): what the timeline says went wrong last
  !s.last_error && s.usage.last_error
    ? h("p", { class: "tool-recorded-error", "data-testid": "tool-recorded-error" },
      h("span", { class: "tool-k" }, `failed at step ${s.usage.last_error_step}`), " ", s.usage.last_error)
    : null,
  h("p", { class: "tool-usage", "data-testid": "tool-usage" }, usageLine(s.usage),
    s.restarts ? h("span", { class: "tool-restarts" }, ` · restarted ${s.restarts}×`) : null),
  tools,
  h("div", { class: "tool-agents", "data-testid": "tool-agents" }, h("span", { class: "tool-k" }, "agents"), agentChips(s, agents)),
  h("p", { class: "muted small tool-limits" },
    `timeout ${s.timeout_s} s · ${s.concurrency} call${s.concurrency === 1 ? "" : "s"} at once`,
    s.secrets.length ? ` · secrets ${s.secrets.join(", ")}` : ""));
}

/**
 * The panel; `refresh()` refetches (at most once a second), `close()` stops it.
 * @param {string} scenarioId
 * @param {{agents: Map<string, {name: string, color: string}>, alive: () => boolean,
 *          onError: (err: Error, what: string) => void}} opts
 */
export function toolsPanel(scenarioId, { agents, alive, onError }) {
  const box = h("div", { class: "tool-cards", "data-testid": "tool-servers" },
    h("div", { class: "loading" }, h("span", { class: "spinner" }), "Loading the tool servers…"));
  const check = h("button", { class: "btn btn-small", type: "button", "data-testid": "tools-check" }, "Check now");
  const note = h("span", { class: "muted small", "data-testid": "tools-note" });
  const panel = h("section", { class: "panel tools-panel", "data-testid": "tools-panel" },
    h("div", { class: "panel-head" }, h("h2", {}, "Tools"), note, check), box);
  const load = { timer: null, busy: false, again: false };

  const render = (servers) => {
    clear(box).append(...servers.map((s) => serverCard(s, agents)));
    const down = servers.filter((s) => s.status === "down").length;
    note.textContent = `${plural(servers.length, "server")}${down ? ` · ${down} down` : ""}`;
    panel.dataset.ready = "true";
  };
  const syncRights = () => {
    // viewers watch; starting servers is for keys that may write
    check.hidden = !can("write");
    check.title = check.hidden ? deniedReason("write") : "Start the servers in this server process and ping them";
  };

  const fetchNow = async () => {
    if (load.busy) {
      load.again = true;
      return;
    }
    load.busy = true;
    try {
      const servers = await api.tools(scenarioId);
      if (alive()) render(servers);
    } catch (err) {
      if (alive() && panel.dataset.ready !== "true") {
        clear(box).append(h("p", { class: "muted small" }, `The tool servers are not available: ${err.message}`));
      }
    } finally {
      load.busy = false;
    }
    if (load.again && alive()) {
      load.again = false;
      refresh();
    }
  };
  const refresh = () => {
    if (load.timer !== null) return; // already due
    load.timer = setTimeout(() => {
      load.timer = null;
      fetchNow();
    }, REFRESH_MS);
  };

  check.addEventListener("click", async () => {
    check.disabled = true;
    check.classList.add("busy");
    check.textContent = "Checking…";
    try {
      const servers = await api.checkTools(scenarioId);
      if (alive()) render(servers);
    } catch (err) {
      if (alive()) onError(err, "Could not check the tool servers");
    } finally {
      check.disabled = false;
      check.classList.remove("busy");
      check.textContent = "Check now";
    }
  });
  window.addEventListener("aegntix:rights", syncRights);
  syncRights();
  fetchNow();
  const close = () => {
    clearTimeout(load.timer);
    window.removeEventListener("aegntix:rights", syncRights);
  };
  return { panel, refresh, close };
}
