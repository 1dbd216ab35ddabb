"""The recorder: tool results and listings read back from the timeline, so a replay or a
fork calls no server, and its model requests (which carry the tools offered) hit the cache
(DESIGN §2, invariant 4).

Before calling live, a call looks for a ``tool_result`` recorded by this branch or an ancestor
(a fork replays its parent's future) for the same (agent, step, call index, name, arguments),
and returns it as it was recorded (same result or error, latency and truncation, so the
fork's events hash identically). A call nobody made before (an injection changed the
arguments, the step or the agent) goes live. Likewise an agent is offered, at a step with a
recorded LLM decision, the tools that decision recorded (``meta["tools"]``), not what the
servers list now (one may be down); a step nobody recorded gets the live listing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from aegntix.model.events import Event, EventKind, canonical_json
from aegntix.timeline.store import Store
from aegntix.tools.base import AgentTools, ToolCaller, ToolInfo, ToolOutcome, listing_from
from aegntix.tools.results import redact

#: (agent, step, call index, name, canonical arguments)
CallKey = tuple[str, int, int, str, str]
#: (agent, step) -> the tools its decision was offered; None: not known (ask the servers).
Listings = dict[tuple[str, int], list[ToolInfo] | None]


def call_key(
    agent_id: str, step: int, index: int, name: str, arguments: Mapping[str, Any]
) -> CallKey:
    return (agent_id, step, index, name, canonical_json(dict(arguments)))


@runtime_checkable
class Preparable(Protocol):
    """A caller with work to do before a run's first call (start servers, check names)."""

    async def prepare(self) -> None: ...


def _listing(payload: Mapping[str, Any]) -> list[ToolInfo] | None:
    """What a recorded decision was offered: its ``tools``; nothing, for an LLM decision
    without tool rounds; unknown for one recorded before listings were, or another brain's."""
    if "tools" in payload:
        return listing_from(payload["tools"])
    if "provider" in payload and "tool_rounds" not in payload:
        return []
    return None


def _collect(events: Iterable[Event], into: dict[CallKey, ToolOutcome], listings: Listings) -> None:
    calls: dict[tuple[str | None, int, int], Mapping[str, Any]] = {}
    seen: set[tuple[str, int]] = set()  # this branch's: its first decision of a step wins
    for event in events:
        if event.kind == EventKind.DECISION and event.agent_id is not None:
            if "purpose" in event.payload:  # a reflection's record, not a decision's
                continue
            at = (event.agent_id, event.step)
            if at not in seen:
                seen.add(at)
                listings[at] = _listing(event.payload)
        elif event.kind == EventKind.TOOL_CALL:
            calls[(event.agent_id, event.step, event.payload["call"])] = event.payload
        elif event.kind == EventKind.TOOL_RESULT and event.agent_id is not None:
            p = event.payload
            call = calls.get((event.agent_id, event.step, p["call"]))
            if call is None:
                continue
            key = call_key(event.agent_id, event.step, p["call"], p["name"], call["arguments"])
            into[key] = ToolOutcome(
                name=p["name"],
                arguments=call["arguments"],
                result=p.get("result"),
                error=p.get("error"),
                latency_ms=p["latency_ms"],
                truncated=p["truncated"],
                recorded=True,
            )


def lineage_records(store: Store, branch_id: str) -> tuple[dict[CallKey, ToolOutcome], Listings]:
    """Every tool result and listing recorded by the branch and its ancestors, the nearest
    winning. Not the siblings': a sibling is another future (and reading every branch of a
    rollout set at each member's start would cost the square of the set)."""
    found: dict[CallKey, ToolOutcome] = {}
    listings: Listings = {}
    for b in reversed(store.lineage(branch_id)):  # the root first: the nearest wins
        _collect(store.events(b.id, from_seq=b.fork_seq + 1), found, listings)
    return found, listings


def lineage_results(store: Store, branch_id: str) -> dict[CallKey, ToolOutcome]:
    """Every tool result recorded by the branch and its ancestors (:func:`lineage_records`)."""
    return lineage_records(store, branch_id)[0]


class RecordedTools:
    """A run's :class:`ToolCaller`: recorded results and listings first, else ``live``. Load
    happens once per run, in ``prepare`` (the listings are needed before any call)."""

    def __init__(self, live: ToolCaller, store: Store, branch_id: str) -> None:
        self.live = live
        self.store = store
        self.branch_id = branch_id
        self._recorded: dict[CallKey, ToolOutcome] | None = None
        self._listings: Listings = {}
        self._load_lock = asyncio.Lock()
        self._counts: dict[tuple[str, int], int] = {}
        #: Calls that went to a server (the rest were read from the timeline).
        self.live_calls = 0

    async def prepare(self) -> None:
        if isinstance(self.live, Preparable):
            await self.live.prepare()
        await self._load()

    def tools_for(self, agent_id: str) -> Sequence[ToolInfo]:
        return self.live.tools_for(agent_id)

    def tools_at(self, agent_id: str, step: int) -> Sequence[ToolInfo]:
        """What the agent was offered at ``step`` if recorded (known once loaded), else the
        live listing."""
        recorded = self._listings.get((agent_id, step))
        return self.live.tools_for(agent_id) if recorded is None else recorded

    async def call(
        self, agent_id: str, step: int, name: str, arguments: Mapping[str, Any]
    ) -> ToolOutcome:
        """Counting the agent's calls in the step itself (the engine uses :meth:`decision`,
        which counts per decision)."""
        index = self._counts.get((agent_id, step), 0)
        self._counts[(agent_id, step)] = index + 1
        return await self.call_at(agent_id, step, index, name, arguments)

    async def call_at(
        self, agent_id: str, step: int, index: int, name: str, arguments: Mapping[str, Any]
    ) -> ToolOutcome:
        recorded = await self._load()
        hit = recorded.get(call_key(agent_id, step, index, name, arguments))
        if hit is not None:
            return hit
        self.live_calls += 1
        return await self.live.call(agent_id, step, name, arguments)

    async def _load(self) -> dict[CallKey, ToolOutcome]:
        if self._recorded is None:
            async with self._load_lock:
                if self._recorded is None:
                    results, self._listings = await asyncio.to_thread(
                        lineage_records, self.store, self.branch_id
                    )
                    self._recorded = results
                    return results
        return self._recorded

    def decision(self, agent_id: str, step: int) -> DecisionTools:
        """The tools of one decision; its calls are numbered from 0."""
        return DecisionTools(self, agent_id, step)


class DecisionTools(AgentTools):
    """One decision's tools through the recorder: each call is numbered when it starts, so
    concurrent calls keep their numbers (``numbered`` lists them in that order)."""

    def __init__(self, tools: RecordedTools, agent_id: str, step: int) -> None:
        super().__init__(tools, agent_id, step)
        self._recorder = tools
        self._slots: list[ToolOutcome | None] = []

    async def call(self, name: str, arguments: Mapping[str, Any]) -> ToolOutcome:
        # As they will be recorded (no NUL, no lone surrogate), so a replay finds them again.
        arguments = redact(dict(arguments), ())
        index = len(self._slots)
        self._slots.append(None)
        outcome = await self._recorder.call_at(self.agent_id, self.step, index, name, arguments)
        self._slots[index] = outcome
        self.calls.append(outcome)
        return outcome

    def failed(self, outcome: ToolOutcome) -> None:
        """A call that failed before reaching any server (its arguments could not be
        computed): numbered and recorded like the others."""
        self._slots.append(outcome)
        self.calls.append(outcome)

    def numbered(self) -> list[tuple[int, ToolOutcome]]:
        """(call number, outcome) of every call that returned, by number."""
        return [(i, o) for i, o in enumerate(self._slots) if o is not None]
