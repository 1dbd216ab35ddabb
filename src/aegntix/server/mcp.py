"""AegntiX as an MCP server: the tools a desktop assistant calls to create scenarios, run
them, fork with an injection, start rollout sets, compare, and read events and state.

Each tool calls the same route functions and role checks as the REST API, on the caller's
tenant: over HTTP the API key of the request (``server/mcp_http.py``), over stdio the CLI's
local owner (``aegntix mcp``). Ids may be unique prefixes; another tenant's id is not found,
exactly as a missing one. A failure is a tool result with ``is_error`` and a typed body
(``server/mcp_errors.py``), never an exception's text.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, InputRequiredResult, ToolAnnotations

from aegntix import __version__
from aegntix.security.roles import Principal
from aegntix.server.mcp_errors import error_result, quiet_root_logging
from aegntix.server.mcp_tools import Caller, Tools
from aegntix.server.problems import Problem

INSTRUCTIONS = (
    "AegntiX runs multi-agent scenarios as event-sourced timelines. Create a scenario "
    "(create_scenario, from YAML/JSON text or a list_examples name), run its root branch "
    "(run), fork it at a past step with an injection (fork), run the fork, and compare the "
    "two branches (compare). start_rollouts runs N futures from one point with statistics "
    "(get_rollouts). Ids may be unique prefixes."
)


class AegntixServer(MCPServer):
    """An ``MCPServer`` whose failed calls are typed tool errors (``mcp_errors.py``)."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except MCPError:  # a protocol error stays one (the SDK answers it as JSON-RPC)
            raise
        except Exception as exc:
            return error_result(name, exc)


#: The tools in the order a client lists them.
TOOL_NAMES = (
    "list_examples",
    "list_scenarios",
    "create_scenario",
    "list_branches",
    "get_branch",
    "run",
    "pause",
    "fork",
    "compare",
    "read_events",
    "state_at",
    "metrics",
    "start_rollouts",
    "get_rollouts",
)

#: The tools that write (a viewer may not call them); the others only read.
WRITE_TOOLS = frozenset({"create_scenario", "run", "pause", "fork", "start_rollouts"})


def build_server(app: FastAPI, caller: Caller) -> AegntixServer:
    """The MCP server of ``app`` (its store, runs and rollout tasks; its lifespan must run)."""
    with quiet_root_logging():  # MCPServer() configures root logging; ours is structlog's
        server = AegntixServer(
            "aegntix", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
        )
    tools = Tools(app, caller)
    for name in TOOL_NAMES:
        fn = getattr(tools, name)
        reads = name not in WRITE_TOOLS
        hints = ToolAnnotations(read_only_hint=reads, destructive_hint=False, open_world_hint=False)
        # the docstring is the description a model reads: without its indentation
        server.add_tool(
            fn, name=name, description=inspect.cleandoc(fn.__doc__ or ""), annotations=hints
        )
    return server


def http_caller(key: str) -> Caller:
    """The principal ``/mcp`` put in the request's scope under ``key`` (its API key's)."""

    def caller(ctx: Context) -> Principal:
        request = ctx.request_context.request
        scope = getattr(request, "scope", None)
        principal = scope.get(key) if isinstance(scope, dict) else None
        if not isinstance(principal, Principal):
            raise Problem(401, "an API key is required", slug="unauthorized")
        return principal

    return caller


def fixed_caller(principal: Principal) -> Caller:
    """Every call as ``principal`` (stdio: the CLI's local owner)."""
    return lambda _ctx: principal
