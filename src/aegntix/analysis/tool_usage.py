"""Tool usage read from the timeline: per server, the calls it answered, errors and latency.

Counted from a scenario's ``tool_result`` events (payloads: ``tools/base.py``), so the numbers
are right whichever process ran the calls (the server, a worker, ``aegntix run``). A fork
reads recorded results instead of calling (DESIGN §2, invariant 4): a result equal to one
recorded earlier in the scenario for the same call (agent, step, call index, name,
arguments) counts as ``replayed``, not as a call, and adds no latency.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aegntix.model.events import Branch, Event, EventKind
from aegntix.timeline.store import Store
from aegntix.tools.recorded import CallKey, call_key

_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(slots=True)
class ServerUsage:
    """One server's calls in a scenario (every branch's own events)."""

    server: str
    calls: int = 0
    errors: int = 0
    replayed: int = 0
    truncated: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    #: tool -> calls (replays excluded)
    by_tool: dict[str, int] = field(default_factory=dict)
    #: The reason of the latest failed call (by step), and its step.
    last_error: str | None = None
    last_error_step: int | None = None

    @property
    def p50_ms(self) -> float | None:
        return round(statistics.median(self.latencies_ms), 3) if self.latencies_ms else None

    @property
    def max_ms(self) -> float | None:
        return max(self.latencies_ms) if self.latencies_ms else None


def _outcome(payload: Mapping[str, Any]) -> tuple[Any, ...]:
    # What a replay copies exactly; a live call repeating it would not match the latency too.
    return (payload.get("result"), payload.get("error"), payload.get("latency_ms"))


def _count(
    events: Iterable[Event], usage: dict[str, ServerUsage], seen: dict[CallKey, tuple[Any, ...]]
) -> None:
    calls: dict[tuple[str | None, int, int], Mapping[str, Any]] = {}
    for event in events:
        p = event.payload
        if event.kind == EventKind.TOOL_CALL:
            calls[(event.agent_id, event.step, p.get("call", -1))] = p
            continue
        if event.kind != EventKind.TOOL_RESULT or not isinstance(p.get("server"), str):
            continue
        counts = usage.setdefault(p["server"], ServerUsage(p["server"]))
        call = calls.get((event.agent_id, event.step, p.get("call", -1)))
        key = None
        if call is not None and event.agent_id is not None:
            arguments = call.get("arguments") or {}
            key = call_key(event.agent_id, event.step, p["call"], str(p.get("name")), arguments)
            if seen.get(key) == _outcome(p):
                counts.replayed += 1
                continue
            seen.setdefault(key, _outcome(p))
        counts.calls += 1
        tool = str(p.get("tool") or "")
        counts.by_tool[tool] = counts.by_tool.get(tool, 0) + 1
        if p.get("error") is not None:
            counts.errors += 1
            if counts.last_error_step is None or event.step >= counts.last_error_step:
                counts.last_error, counts.last_error_step = str(p["error"]), event.step
        if p.get("truncated"):
            counts.truncated += 1
        latency = p.get("latency_ms")
        if isinstance(latency, int | float):
            counts.latencies_ms.append(float(latency))


def tool_usage(store: Store, scenario_id: str) -> dict[str, ServerUsage]:
    """Per server name: the scenario's tool calls, over every branch's own events (a
    branch's inherited history is its parent's, counted once), oldest branch first."""

    def created(b: Branch) -> tuple[datetime, str]:
        return (b.created_at or _EPOCH, b.id)

    usage: dict[str, ServerUsage] = {}
    seen: dict[CallKey, tuple[Any, ...]] = {}
    for branch in sorted(store.list_branches(scenario_id), key=created):
        if branch.head_seq > branch.fork_seq:
            _count(store.events(branch.id, from_seq=branch.fork_seq + 1), usage, seen)
    return usage
