"""A scenario's tool servers, for the Tools panel of the web UI: what it declares, who may
use what, how each server is doing in this process, and what the timeline says it did.

Live status comes from this process's router (``tools/router.py``): a server that runs
only on a worker reads ``idle`` here (``in_process`` false); ``POST …/tools/check`` starts
the servers here and pings them. Usage is counted from the scenario's ``tool_result`` events
(``analysis/tool_usage.py``), so it is right whichever process made the calls.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

from aegntix.analysis.tool_usage import ServerUsage, tool_usage
from aegntix.errors import ToolSecretMissing
from aegntix.model.scenario import Scenario
from aegntix.model.stored import scenario_from
from aegntix.model.tools import ServerSpec, allow_list, allowed
from aegntix.server.deps import ReadStore, ScenarioId, WriteStore
from aegntix.server.schemas import problem_responses
from aegntix.timeline.tenancy import TenantStore
from aegntix.tools.connection import Connection, Status
from aegntix.tools.resolved import resolve_server
from aegntix.tools.results import short
from aegntix.tools.router import ToolRouter, process_router

router = APIRouter(prefix="/v1", tags=["scenarios"], responses=problem_responses(401, 403, 404))

#: Tools listed per server in an answer (``tool_count`` has them all).
MAX_LISTED = 200
#: Seconds a check waits for a server to start (a slower one is answered as ``starting``).
CHECK_WAIT_S = 30.0


class ListedTool(BaseModel):
    name: str
    description: str = ""


class AllowedAgent(BaseModel):
    id: str
    name: str
    #: The agent's allow-list patterns that reach this server (``*``, ``server.*``, …).
    patterns: list[str]
    #: The server's listed tools those patterns allow; null until the server has listed them.
    tools: list[str] | None = None


class ToolUsageOut(BaseModel):
    """From the timeline: calls a server answered (replays of recorded results apart)."""

    calls: int = 0
    errors: int = 0
    #: Results a fork or replay read from the timeline: no server was called.
    replayed: int = 0
    truncated: int = 0
    p50_ms: float | None = None
    max_ms: float | None = None
    #: tool -> calls
    by_tool: dict[str, int] = {}
    #: The latest failed call's reason in this scenario's timeline (by step), and its step.
    last_error: str | None = None
    last_error_step: int | None = None


class ToolServerOut(BaseModel):
    name: str
    transport: Literal["stdio", "http"]
    #: The command line, or the URL without credentials or query (never env or headers).
    where: str
    #: Names of the secrets it needs (``secret:NAME``); their values are never shown.
    secrets: list[str] = []
    timeout_s: float
    start_timeout_s: float
    concurrency: int
    status: Literal["idle", "starting", "up", "down", "closed"]
    #: This API process has the server (else ``status`` is ``idle``: not started here).
    in_process: bool
    restarts: int = 0
    last_error: str | None = None
    protocol: str | None = None
    #: Tools the server lists; null until it has listed them.
    tool_count: int | None = None
    tools: list[ListedTool] = []
    agents: list[AllowedAgent]
    usage: ToolUsageOut


def _where(spec: ServerSpec) -> str:
    if spec.url is None:
        return " ".join([spec.command or "", *spec.args])
    parts = urlsplit(spec.url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}{'?…' if parts.query else ''}"


def _agents(scenario: Scenario, name: str, conn: Connection | None) -> list[dict[str, Any]]:
    listed = sorted(conn.tools) if conn is not None and conn.tools else None
    out = []
    for agent in scenario.agents:
        reach = [
            p for p in allow_list(scenario, agent.id) if p == "*" or p.partition(".")[0] == name
        ]
        if not reach:
            continue
        tools = None
        if listed is not None:
            tools = [t for t in listed if allowed(reach, f"{name}.{t}")]
        out.append({"id": agent.id, "name": agent.name, "patterns": reach, "tools": tools})
    return out


def _usage(found: ServerUsage | None) -> dict[str, Any]:
    if found is None:
        return {}
    return {
        "calls": found.calls,
        "errors": found.errors,
        "replayed": found.replayed,
        "truncated": found.truncated,
        "p50_ms": found.p50_ms,
        "max_ms": found.max_ms,
        "by_tool": found.by_tool,
        "last_error": found.last_error,
        "last_error_step": found.last_error_step,
    }


def _live(conn: Connection | None, problem: str | None) -> dict[str, Any]:
    if conn is None:
        return {"status": "idle", "in_process": False, "last_error": problem}
    row = conn.status_row()
    listed = sorted(conn.tools.values(), key=lambda t: t.name)
    known = bool(listed) or conn.status is Status.UP
    return {
        "status": row["status"],
        "in_process": True,
        "restarts": row["restarts"],
        "last_error": row["last_error"],
        "protocol": row["protocol"],
        "tool_count": len(listed) if known else None,
        "tools": [
            {"name": t.name, "description": short(t.description or "")} for t in listed[:MAX_LISTED]
        ],
    }


def _connections(
    router: ToolRouter, scenario: Scenario, tenant_id: str, *, start: bool
) -> tuple[dict[str, Connection], dict[str, str]]:
    """This process's connection per declared server of the tenant (``start``: one for every
    server, else only those the router already runs), and why the others have none."""
    assert scenario.tools is not None
    conns: dict[str, Connection] = {}
    problems: dict[str, str] = {}
    for name, spec in scenario.tools.servers.items():
        try:
            resolved = resolve_server(name, spec)
        except ToolSecretMissing as exc:
            problems[name] = str(exc)
            continue
        # A lookup must not add a server to the router: only one it already runs.
        found = (
            router.connection(resolved, tenant_id) if start else router.find(resolved, tenant_id)
        )
        if found is not None:
            conns[name] = found
    return conns, problems


def _rows(
    scenario: Scenario,
    conns: dict[str, Connection],
    problems: dict[str, str],
    usage: dict[str, ServerUsage],
) -> list[dict[str, Any]]:
    if scenario.tools is None:
        return []
    rows = []
    for name, spec in scenario.tools.servers.items():
        conn = conns.get(name)
        rows.append(
            {
                "name": name,
                "transport": "http" if spec.url is not None else "stdio",
                "where": _where(spec),
                "secrets": spec.secrets(),
                "timeout_s": spec.timeout_s,
                "start_timeout_s": spec.start_timeout_s,
                "concurrency": spec.concurrency,
                **_live(conn, problems.get(name)),
                "agents": _agents(scenario, name, conn),
                "usage": _usage(usage.get(name)),
            }
        )
    return rows


def _read(store: TenantStore, scenario_id: str) -> tuple[Scenario, dict[str, ServerUsage]]:
    scenario = scenario_from(store.get_scenario(scenario_id))
    usage = tool_usage(store, scenario_id) if scenario.tools is not None else {}
    return scenario, usage


async def _check(conn: Connection) -> None:
    if conn.status in (Status.IDLE, Status.DOWN):
        conn.start()  # asked for now: not after the restart backoff
    # A 2026-era server has no ping (the SDK refuses to send one, and a refused ping would
    # mark it dead): for it, coming up and listing its tools is the check.
    wait = min(conn.server.start_timeout_s, CHECK_WAIT_S)
    if await conn.ensure(wait) and conn.protocol not in MODERN_PROTOCOL_VERSIONS:
        await conn.ping()


@router.get("/scenarios/{scenario_id}/tools", response_model=list[ToolServerOut])
async def get_tools(scenario_id: ScenarioId, store: ReadStore) -> list[dict[str, Any]]:
    """The scenario's tool servers: how each is reached (no env or header values), its
    limits, the agents that may use it, its status in this process (``idle`` when not
    started here) and its usage counted from the timeline. Empty without ``tools:``."""
    scenario, usage = await asyncio.to_thread(_read, store, scenario_id)
    if scenario.tools is None:
        return []
    conns, problems = _connections(process_router(), scenario, store.tenant_id, start=False)
    return _rows(scenario, conns, problems, usage)


@router.post("/scenarios/{scenario_id}/tools/check", response_model=list[ToolServerOut])
async def check_tools(scenario_id: ScenarioId, store: WriteStore) -> list[dict[str, Any]]:
    """Start the scenario's servers in this process (if they are not up) and ping them;
    answers as ``GET …/tools`` does, after the check. A server that cannot start is
    ``down`` with its reason in ``last_error``."""
    scenario, usage = await asyncio.to_thread(_read, store, scenario_id)
    if scenario.tools is None:
        return []
    conns, problems = _connections(process_router(), scenario, store.tenant_id, start=True)
    await asyncio.gather(*(_check(c) for c in conns.values()))
    rows = _rows(scenario, conns, problems, usage)
    for row in rows:
        if row["name"] in problems:
            row["status"] = "down"  # it cannot start here without its secret
    return rows
