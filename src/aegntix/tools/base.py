"""The tool contract: what an agent may call, and what a call comes back with.

A scenario's ``tools:`` declares MCP servers; a :class:`ToolCaller` (the router of live
servers, wrapped by the recorder that makes replays call nothing) answers the two questions
the engine and the brains ask: which tools may this agent use, and what did a call return.
Names are namespaced ``server.tool``. A call never raises for the outside world's faults (a
dead server, a timeout, a malformed result): those come back as an outcome with ``error``, so
the run goes on and the agent sees the error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class ToolInfo:
    """One tool as an agent is shown it."""

    name: str  # namespaced: "<server>.<tool>"
    server: str
    tool: str
    description: str = ""
    #: The tool's JSON Schema for its arguments, as the server lists it.
    input_schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What one call came back with: ``result`` (JSON-able: the structured content, else the
    text) or ``error`` (a short reason), never both."""

    name: str
    arguments: Mapping[str, Any]
    result: Any = None
    error: str | None = None
    latency_ms: float = 0.0
    #: The result was cut to the size limit.
    truncated: bool = False
    #: Read from the timeline (a replay or a fork): no server was called.
    recorded: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def listing_record(tools: Sequence[ToolInfo]) -> list[dict[str, Any]]:
    """The tools offered to a model, as its decision records them (``meta["tools"]``)."""
    return [
        {"name": t.name, "description": t.description, "input_schema": dict(t.input_schema)}
        for t in tools
    ]


def listing_from(record: Sequence[Mapping[str, Any]]) -> list[ToolInfo]:
    """The tools of a recorded listing (see :func:`listing_record`)."""
    infos = []
    for t in record:
        server, _, tool = t["name"].partition(".")
        infos.append(ToolInfo(t["name"], server, tool, t["description"], t["input_schema"]))
    return infos


@runtime_checkable
class ToolCaller(Protocol):
    """Calls tools for agents. ``call`` raises only for a name the agent may not use
    (``ToolNotAllowed``); every fault of the server or the tool is an outcome's ``error``."""

    def tools_for(self, agent_id: str) -> Sequence[ToolInfo]: ...

    async def call(
        self, agent_id: str, step: int, name: str, arguments: Mapping[str, Any]
    ) -> ToolOutcome: ...


@runtime_checkable
class ListsByStep(Protocol):
    """A caller that knows what an agent was offered at a step (the recorder: what the
    timeline recorded, so a replay offers the same list whatever the servers list now)."""

    def tools_at(self, agent_id: str, step: int) -> Sequence[ToolInfo]: ...


class AgentTools:
    """One agent's tools for one decision: what it may call, and the calls it made, in order
    (the engine records each as a ``tool_call`` and a ``tool_result`` event before the
    decision's own events). Brains call through this, never through a router directly.

    Event payloads (agent_id on the event is the caller): ``tool_call`` =
    ``{"call": i, "name", "server", "tool", "arguments"}``; ``tool_result`` = ``{"call": i,
    "name", "server", "tool", "result" | "error", "latency_ms", "truncated"}``, ``i`` counting
    the agent's calls in the step from 0."""

    def __init__(self, caller: ToolCaller, agent_id: str, step: int) -> None:
        self._caller = caller
        self.agent_id = agent_id
        self.step = step
        self.available: Sequence[ToolInfo] = (
            caller.tools_at(agent_id, step)
            if isinstance(caller, ListsByStep)
            else caller.tools_for(agent_id)
        )
        self.calls: list[ToolOutcome] = []

    async def call(self, name: str, arguments: Mapping[str, Any]) -> ToolOutcome:
        outcome = await self._caller.call(self.agent_id, self.step, name, arguments)
        self.calls.append(outcome)
        return outcome


@dataclass(frozen=True, slots=True)
class Backoff:
    """Restart delays: ``first`` seconds, doubling up to ``most``; after ``attempts``
    failures in a row no restart is scheduled (a call still tries once the delay passed)."""

    first: float = 0.5
    most: float = 30.0
    attempts: int = 5

    def delay(self, failures: int) -> float:
        return float(min(self.most, self.first * 2 ** max(0, failures - 1)))
