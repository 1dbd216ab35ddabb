"""Tools for LLM tool-use tests: a real MCP server in-process (``MCPServer``, reached through
``mcp.Client``), a :class:`ToolCaller` over it, and one that replays recorded outcomes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any

import mcp
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from aegntix.tools.base import ToolInfo, ToolOutcome

FORECASTS = {"Oslo": "light rain, 9 C", "Lisbon": "sunny, 24 C"}


def weather_server(calls: list[tuple[str, dict[str, Any]]]) -> MCPServer:
    """A small weather server; every call that reaches it is appended to ``calls``."""
    server = MCPServer("weather", log_level="CRITICAL")

    @server.tool(description="Today's forecast for a city.")
    def forecast(city: str) -> str:
        calls.append(("forecast", {"city": city}))
        return FORECASTS.get(city, "no data")

    @server.tool(description="Storm warnings in force for a region.")
    def alerts(region: str) -> str:
        calls.append(("alerts", {"region": region}))
        return f"no warnings for {region}"

    @server.tool(description="Readings of a weather station (it is down).")
    def station(station_id: str) -> str:
        calls.append(("station", {"station_id": station_id}))
        raise ToolError(f"station {station_id} is offline")

    arrived: dict[str, asyncio.Event] = {}

    @server.tool(description="Wait (up to 2 s) until someone else meets you here too.")
    async def meet(who: str) -> str:
        calls.append(("meet", {"who": who}))
        arrived.setdefault(who, asyncio.Event()).set()
        others = [w for w in ("a", "b") if w != who]
        try:
            for other in others:
                await asyncio.wait_for(arrived.setdefault(other, asyncio.Event()).wait(), 2)
        except TimeoutError:
            return f"{who} waited alone"
        if who == "a":  # a finishes last, so the calls end in another order than asked
            await asyncio.sleep(0.05)
        return f"{who} met {', '.join(others)}"

    return server


class McpTools:
    """A :class:`~aegntix.tools.base.ToolCaller` over one MCP server, its tools named
    ``<server>.<tool>``; use it as ``async with McpTools("weather", server) as tools``."""

    def __init__(self, name: str, server: MCPServer) -> None:
        self.name = name
        self._client = mcp.Client(server)
        self._stack = AsyncExitStack()
        self._tools: list[ToolInfo] = []

    async def __aenter__(self) -> McpTools:
        client = await self._stack.enter_async_context(self._client)
        listed = await client.list_tools()
        self._tools = [
            ToolInfo(
                f"{self.name}.{t.name}", self.name, t.name, t.description or "", t.input_schema
            )
            for t in listed.tools
        ]
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._stack.aclose()

    def tools_for(self, agent_id: str) -> Sequence[ToolInfo]:
        return self._tools

    async def call(
        self, agent_id: str, step: int, name: str, arguments: Mapping[str, Any]
    ) -> ToolOutcome:
        server, _, tool = name.partition(".")
        if server != self.name or all(t.tool != tool for t in self._tools):
            raise LookupError(f"{agent_id} may not use {name}")
        result = await self._client.call_tool(tool, dict(arguments))
        text = "".join(getattr(block, "text", "") for block in result.content)
        if result.is_error:
            return ToolOutcome(name, arguments, error=text)
        return ToolOutcome(name, arguments, result=result.structured_content or text)


class Replayed:
    """A :class:`ToolCaller` that answers from recorded outcomes, in order, calling nothing
    (what a fork's recorder does)."""

    def __init__(self, tools: Sequence[ToolInfo], outcomes: Sequence[ToolOutcome]) -> None:
        self._tools = list(tools)
        self._outcomes = list(outcomes)

    def tools_for(self, agent_id: str) -> Sequence[ToolInfo]:
        return self._tools

    async def call(
        self, agent_id: str, step: int, name: str, arguments: Mapping[str, Any]
    ) -> ToolOutcome:
        outcome = self._outcomes.pop(0)
        assert (outcome.name, dict(outcome.arguments)) == (name, dict(arguments))
        return ToolOutcome(
            name, arguments, outcome.result, outcome.error, outcome.latency_ms, recorded=True
        )
