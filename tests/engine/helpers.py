"""Small helpers for engine tests: run branches to completion and read them back."""

from __future__ import annotations

import asyncio
from typing import Any

from aegntix.engine import Runner, RunSummary, start_scenario
from aegntix.model.events import Event
from aegntix.model.loading import validate_scenario
from aegntix.model.scenario import Scenario
from aegntix.timeline import SqlStore


def run_new(store: SqlStore, scenario: Scenario, steps: int | None = None, **kw: Any) -> str:
    branch = start_scenario(store, scenario, **kw)
    run(store, branch.id, steps)
    return branch.id


def run(store: SqlStore, branch_id: str, steps: int | None = None) -> RunSummary:
    return asyncio.run(Runner(store, branch_id).run(steps))


def signature(events: list[Event]) -> list[tuple[Any, ...]]:
    """Everything about an event except which branch row holds it and when."""
    return [(e.seq, e.step, e.kind, e.agent_id, e.payload, e.hash, e.prev_hash) for e in events]


def own_events(store: SqlStore, branch_id: str, after_seq: int) -> list[Event]:
    return list(store.events(branch_id, from_seq=after_seq + 1))


def edited(scenario: Scenario, **changes: Any) -> Scenario:
    """A copy of ``scenario`` with top-level or ``agents.<id>.<field>`` changes."""
    data = scenario.model_dump(mode="json")
    for key, value in changes.items():
        if key.startswith("agents__"):
            _, agent_id, field = key.split("__", 2)
            for agent in data["agents"]:
                if agent["id"] == agent_id:
                    agent[field] = value
        else:
            data[key] = value
    return validate_scenario(data)
