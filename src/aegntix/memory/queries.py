"""Reading memories back: what an agent remembered in a branch, and why it said something.

"Why did the agent say this?" — every decision's ``memory`` event records the memories it
recalled and their scores (recency, importance, relevance), so the answer is read, not
recomputed: it stays true whatever the retrieval code becomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aegntix.errors import InvalidRequest
from aegntix.memory.records import (
    Memory,
    Recall,
    formed_memories,
    lived_offset,
    memory_events,
    recalled_for,
)
from aegntix.model.events import Event, EventKind
from aegntix.model.scenario import Scenario
from aegntix.model.stored import scenario_from
from aegntix.timeline.store import Store


def _scenario(store: Store, branch_id: str) -> Scenario:
    branch = store.get_branch(branch_id)
    return scenario_from(store.get_scenario(branch.scenario_id))


def branch_memories(
    store: Store,
    branch_id: str,
    *,
    agent_id: str | None = None,
    upto_step: int | None = None,
    committed: bool = False,
) -> list[Memory]:
    """Memories formed in a branch's timeline (its lineage's up to the fork point, then its
    own), oldest first; ``committed`` adds the persistent agents' memories it started with."""
    scenario = _scenario(store, branch_id)
    ids = {a.id for a in scenario.agents}
    if agent_id is not None and agent_id not in ids:
        raise InvalidRequest(f"agent: no agent '{agent_id}' in this scenario")
    offsets = {a.id: lived_offset(a) for a in scenario.agents}
    out: list[Memory] = []
    if committed:
        from aegntix.memory.profiles import committed_memories

        for memories in committed_memories(store, scenario, agent_id).values():
            out.extend(memories)
    events = store.events(branch_id, to_step=upto_step)
    for event in memory_events(events, agent_id):
        out.extend(formed_memories(event, offsets.get(event.agent_id or "", 0.0)))
    return out


@dataclass(frozen=True, slots=True)
class Why:
    """The memories recalled for the decision behind an event."""

    event: Event  # the message or action asked about
    memory_event: Event
    recalled: list[tuple[Memory, Recall]]

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.event.seq,
            "step": self.event.step,
            "agent_id": self.event.agent_id,
            "kind": self.event.kind,
            "memory_seq": self.memory_event.seq,
            "recalled": [{**r.as_json(), "memory": m.as_json()} for m, r in self.recalled],
        }


def why(store: Store, branch_id: str, seq: int) -> Why:
    """What ``seq``'s agent recalled when it decided to say or do it."""
    target = next(iter(store.events(branch_id, from_seq=seq, to_seq=seq)), None)
    if target is None:
        raise InvalidRequest(f"seq: branch has no event {seq}")
    if target.agent_id is None or target.kind not in (
        EventKind.MESSAGE,
        EventKind.ACTION,
        EventKind.DECISION,
    ):
        raise InvalidRequest(
            f"seq: event {seq} is a {target.kind}, not an agent's message or action"
        )
    after = store.events(branch_id, from_seq=seq + 1, to_step=target.step)
    record = next(
        (e for e in after if e.kind == EventKind.MEMORY and e.agent_id == target.agent_id), None
    )
    if record is None:
        raise InvalidRequest(
            f"seq: no memory was recalled for event {seq} (memory is off in this scenario)"
        )
    known = {
        m.ref: m
        for m in branch_memories(
            store, branch_id, agent_id=target.agent_id, upto_step=target.step, committed=True
        )
    }
    recalled = [(known[r.ref], r) for r in recalled_for(record) if r.ref in known]
    return Why(target, record, recalled)
