"""The router: every MCP server a process uses, and one run's view of them.

:class:`ToolRouter` holds the live servers of one event loop (a worker's runs share them:
servers are keyed by their resolved spec, so two scenarios declaring the same server use one
process). :class:`RunTools` is one run's :class:`~aegntix.tools.base.ToolCaller`: the
scenario's names (``server.tool``), its allow-lists, its size limit and its secrets to redact.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aegntix.errors import ToolNotAllowed, ToolNotListed
from aegntix.model.scenario import Scenario
from aegntix.model.tools import allow_list, allowed, exact_names
from aegntix.tools.base import Backoff, ToolInfo, ToolOutcome
from aegntix.tools.resolved import ResolvedServer, resolve_all
from aegntix.tools.results import limited, redact, result_value, short

if TYPE_CHECKING:
    # The MCP SDK costs a CLI or a worker about a third of its start-up: imported when a run
    # first connects to a server, never by one that declares no tools.
    from aegntix.tools.connection import Connection


class ToolRouter:
    """The live servers of one event loop. Close it (``aclose``) to stop them all."""

    def __init__(self, backoff: Backoff | None = None, *, health_every_s: float | None = 60.0):
        self.backoff = backoff or Backoff()
        #: Seconds between health checks of the servers that are up (None: only on demand).
        self.health_every_s = health_every_s
        self._connections: dict[str, Connection] = {}
        self._health: asyncio.Task[None] | None = None

    def connection(self, server: ResolvedServer, tenant_id: str = "default") -> Connection:
        """The connection for ``server`` (not started: it starts when first needed). Keyed
        by tenant too: a server may keep state, and tenants never share any."""
        key = f"{tenant_id}/{server.key}"
        found = self._connections.get(key)
        if found is None or found.status == "closed":
            from aegntix.tools.connection import Connection

            found = self._connections[key] = Connection(server, self.backoff)
            found.tenant_id = tenant_id
        if self._health is None and self.health_every_s is not None:
            self._health = asyncio.get_running_loop().create_task(self._check_every())
        return found

    def find(self, server: ResolvedServer, tenant_id: str = "default") -> Connection | None:
        """The connection this router already has for ``server`` (never makes one)."""
        found = self._connections.get(f"{tenant_id}/{server.key}")
        return None if found is None or found.status == "closed" else found

    async def _check_every(self) -> None:
        assert self.health_every_s is not None
        while True:
            await asyncio.sleep(self.health_every_s)
            await self.check()

    def status(self, tenant_id: str | None = None) -> list[dict[str, Any]]:
        """Per server (of ``tenant_id``, or all): status (idle/starting/up/down), last
        error, restarts, tool count."""
        return [
            c.status_row()
            for c in self._connections.values()
            if tenant_id is None or c.tenant_id == tenant_id
        ]

    async def check(self) -> dict[str, bool]:
        """Ping every server that is up; one that does not answer is restarted."""
        conns = list(self._connections.values())
        answers = await asyncio.gather(*(c.ping() for c in conns))
        return {c.server.name: ok for c, ok in zip(conns, answers, strict=True)}

    async def aclose(self) -> None:
        if self._health is not None:
            self._health.cancel()
            self._health = None
        conns = list(self._connections.values())
        self._connections.clear()
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)

    def for_run(self, scenario: Scenario, tenant_id: str = "default") -> RunTools:
        return RunTools(self, scenario, tenant_id)


_routers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ToolRouter] = (
    weakref.WeakKeyDictionary()
)


def process_router() -> ToolRouter:
    """The router of the running event loop (its servers stop when the loop ends: their
    owner tasks are cancelled, which closes each transport and its process)."""
    loop = asyncio.get_running_loop()
    router = _routers.get(loop)
    if router is None:
        router = _routers[loop] = ToolRouter()
    return router


class RunTools:
    """One run's tools: implements :class:`~aegntix.tools.base.ToolCaller`. ``prepare``
    (awaited when the run starts) resolves secrets, starts the servers and checks that every
    tool named exactly in an allow-list or an action is listed by its (running) server."""

    def __init__(self, router: ToolRouter, scenario: Scenario, tenant_id: str = "default") -> None:
        if scenario.tools is None:
            raise ValueError("the scenario declares no tools")
        self.router = router
        self.tenant_id = tenant_id
        self.scenario = scenario
        self.config = scenario.tools
        self.servers: dict[str, Connection] = {}
        self.secrets: tuple[str, ...] = ()
        self._allow = {a.id: allow_list(scenario, a.id) for a in scenario.agents}
        self._infos: dict[str, tuple[tuple[int, ...], list[ToolInfo]]] = {}

    async def prepare(self) -> None:
        resolved = resolve_all(self.config)
        self.secrets = tuple(s for r in resolved.values() for s in r.secrets)
        self.servers = {
            name: self.router.connection(r, self.tenant_id) for name, r in resolved.items()
        }
        await asyncio.gather(*(c.ensure() for c in self.servers.values()))
        self._check_named()

    def _check_named(self) -> None:
        named: dict[str, str] = {}
        for agent_id, patterns in self._allow.items():
            for name in exact_names(patterns):
                named.setdefault(name, f"agent '{agent_id}' tools")
        for action_name, action in self.scenario.actions.items():
            if action.tool is not None:
                named.setdefault(action.tool, f"action '{action_name}'")
        for name, where in named.items():
            server, _, tool = name.partition(".")
            conn = self.servers.get(server)
            if conn is not None and conn.up and tool not in conn.tools:
                listed = ", ".join(sorted(conn.tools)[:20]) or "none"
                raise ToolNotListed(
                    f"{where}: server '{server}' lists no tool '{tool}' (it lists: {listed})"
                )

    def tools_for(self, agent_id: str) -> Sequence[ToolInfo]:
        patterns = self._allow.get(agent_id, [])
        if not patterns:
            return []
        # Rebuilt only when a server's list changed (a refresh replaces the dict).
        version = tuple(id(c.tools) for c in self.servers.values())
        cached = self._infos.get(agent_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        infos = [
            ToolInfo(
                name=f"{server}.{tool.name}",
                server=server,
                tool=tool.name,
                description=tool.description or "",
                input_schema=tool.input_schema,
            )
            for server, conn in sorted(self.servers.items())
            for tool in sorted(conn.tools.values(), key=lambda t: t.name)
            if allowed(patterns, f"{server}.{tool.name}")
        ]
        self._infos[agent_id] = (version, infos)
        return infos

    def may_call(self, agent_id: str, name: str) -> bool:
        return allowed(self._allow.get(agent_id, []), name)

    async def call(
        self, agent_id: str, step: int, name: str, arguments: Mapping[str, Any]
    ) -> ToolOutcome:
        if not self.may_call(agent_id, name):
            raise ToolNotAllowed(f"agent '{agent_id}' may not call '{name}'")
        server, _, tool = name.partition(".")
        conn = self.servers.get(server)
        if conn is None:
            return ToolOutcome(name, arguments, error=f"no tool server '{server}'")
        called = await conn.call(tool, arguments)
        if called.result is None:
            return ToolOutcome(name, arguments, error=called.error, latency_ms=called.latency_ms)
        cut = False
        try:
            value, error = result_value(called.result)
            if error is None:
                value, cut = limited(redact(value, self.secrets), self.config.max_result_chars)
        except (TypeError, ValueError, RecursionError) as exc:  # not JSON (NaN, too deep)
            value, error = None, f"malformed result: {exc}"
        if error is not None:
            error = short(redact(error, self.secrets))
            return ToolOutcome(name, arguments, error=error, latency_ms=called.latency_ms)
        return ToolOutcome(
            name, arguments, result=value, latency_ms=called.latency_ms, truncated=cut
        )
