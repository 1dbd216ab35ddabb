"""Swarm test helpers: scenarios of n agents with a topology, a brain answering from a
Python function (a real ``Brain``, recording what it was shown), running them."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aegntix.brains.base import Decision, Observation
from aegntix.engine import Runner, start_scenario
from aegntix.model.loading import validate_scenario
from aegntix.model.scenario import AgentSpec, Scenario
from aegntix.timeline import SqlStore

Decide = Callable[[Observation, random.Random], Decision]


class FunctionBrain:
    """Decides with ``fn`` and keeps every observation it was given."""

    name = "function"

    def __init__(self, fn: Decide, seen: list[Observation]) -> None:
        self.fn = fn
        self.seen = seen

    async def decide(self, observation: Observation, rng: random.Random) -> Decision:
        # own and others are live views of the run's state: keep them as they were now
        frozen = {k: dict(v) for k, v in observation.others.items()}
        self.seen.append(replace(observation, own=dict(observation.own), others=frozen))
        return self.fn(observation, rng)


def cast(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"a{i}",
            "name": f"Agent {i}",
            "role": "resident",
            "stance": round(-1 + 2 * i / max(1, n - 1), 3),
        }
        for i in range(n)
    ]


def swarm(n: int, topology: dict[str, Any] | str | None, **extra: Any) -> Scenario:
    data: dict[str, Any] = {
        "name": "swarm",
        "topic": "the new bridge",
        "agents": cast(n),
        "termination": {"max_steps": 50},
        "outcomes": {"mean": "mean_stance"},
        **extra,
    }
    if topology is not None:
        data["topology"] = topology
    return validate_scenario(data)


def run_with(
    store: SqlStore, scenario: Scenario, fn: Decide, steps: int
) -> tuple[str, list[Observation]]:
    """Start and run ``scenario`` with ``fn`` deciding for everyone; the observations."""
    seen: list[Observation] = []

    def factory(_scenario: Scenario, _agent: AgentSpec) -> FunctionBrain:
        return FunctionBrain(fn, seen)

    branch = start_scenario(store, scenario)
    asyncio.run(Runner(store, branch.id, brains=factory).run(steps))
    return branch.id, seen
