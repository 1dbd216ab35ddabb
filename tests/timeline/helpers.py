"""Small builders and raw-table helpers for the timeline tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from aegntix.model.events import GENESIS_HASH, Event, EventKind, NewEvent, event_hash
from aegntix.model.state import State, apply_event, empty_state
from aegntix.timeline import SqlStore

TABLES = ("scenarios", "branches", "events", "snapshots")

SPEC: dict[str, Any] = {
    "name": "t",
    "agents": [{"id": "a", "name": "A", "role": "r"}],
    "termination": {"max_steps": 100},
}


def world(step: int, **sets: Any) -> NewEvent:
    return NewEvent(step, EventKind.WORLD, {"set": {f"world.{k}": v for k, v in sets.items()}})


def msg(step: int, text: str = "hi", agent: str | None = "a") -> NewEvent:
    return NewEvent(step, EventKind.MESSAGE, {"text": text}, agent)


def root(store: SqlStore, spec: dict[str, Any] | None = None, seed: int = 7) -> str:
    scenario = store.create_scenario("test", spec if spec is not None else SPEC)
    return store.create_branch(scenario.id, seed=seed).id


def steps(store: SqlStore, branch_id: str, first: int, last: int, per_step: int = 2) -> None:
    """Append ``per_step`` events (a world patch and messages) for each step."""
    batch: list[NewEvent] = []
    for step in range(first, last + 1):
        batch.append(world(step, x=step, last=f"s{step}"))
        batch.extend(msg(step, f"m{step}.{i}") for i in range(per_step - 1))
    store.append(branch_id, batch)


def counts(store: SqlStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in TABLES
        }


def fold_events(events: list[Event] | list[NewEvent], upto_step: int | None = None) -> State:
    state = empty_state()
    for e in events:
        if upto_step is None or e.step <= upto_step:
            apply_event(state, e.kind, e.step, e.payload)
    return state


def assert_chain(events: list[Event]) -> None:
    """Seqs dense from 1 and every hash recomputes from its predecessor."""
    prev = GENESIS_HASH
    for i, e in enumerate(events, start=1):
        assert e.seq == i
        assert e.prev_hash == prev
        assert e.hash == event_hash(prev, e.seq, e.step, e.kind, e.agent_id, e.payload)
        prev = e.hash
