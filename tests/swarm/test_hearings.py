"""``step_hearings``: who heard what at a step is what the run really showed each agent.

Agents on a ring talk (some messages addressed to a neighbour), then a gradual injection
spreads over three steps; every message and injection wave the hearings list an agent under
is one that agent's later observations held, and no other agent's."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

import pytest

from aegntix.brains.base import Decision, Observation
from aegntix.engine import Runner, start_scenario
from aegntix.errors import InvalidRequest
from aegntix.inject import inject
from aegntix.model.scenario import AgentSpec, Scenario
from aegntix.swarm.hearings import step_hearings
from aegntix.swarm.metrics import branch_metrics
from aegntix.timeline import SqlStore

from .support import FunctionBrain, swarm

N = 6
NEWS = "The bridge will be built with federal money."


def _talk(obs: Observation, rng: random.Random) -> Decision:
    me = int(obs.agent.id[1:])
    # every other step a message addressed to the next agent on the ring (a neighbour)
    to = [f"a{(me + 1) % N}"] if (obs.step + me) % 2 == 0 else None
    stance = max(-1.0, min(1.0, float(obs.own["stance"]) + rng.uniform(-0.1, 0.1)))
    return Decision(action="say", content=f"a{me} at {obs.step}", to=to, stance=round(stance, 4))


def _run(store: SqlStore, branch_id: str, scenario: Scenario, seen: list[Observation]) -> None:
    def factory(_scenario: Scenario, _agent: AgentSpec) -> FunctionBrain:
        return FunctionBrain(_talk, seen)

    asyncio.run(Runner(store, branch_id, brains=factory).run(3))


def test_hearings_are_what_each_agent_was_shown(store: SqlStore) -> None:
    scenario = swarm(N, "ring")
    seen: list[Observation] = []
    branch = start_scenario(store, scenario)
    _run(store, branch.id, scenario, seen)
    inject(store, branch.id, NEWS, strategy="gradual", schedule={"steps": 3})
    _run(store, branch.id, scenario, seen)
    head = store.get_branch(branch.id).head_step
    assert head == 6

    # what the run showed: seq -> the agents whose observation held it
    shown: dict[int, set[str]] = defaultdict(set)
    for obs in seen:
        for ev in obs.visible:
            shown[ev.seq].add(obs.agent.id)

    metrics = branch_metrics(store, branch.id)
    reached: set[str] = set()
    for step in range(head + 1):
        found = step_hearings(store, branch.id, step)
        assert found.step == step and found.head_step == head
        assert sum(len(x.hearers) for x in found.said) == metrics.steps[step].heard
        addressed = 0
        for said in found.said:
            if said.to:
                addressed += 1
                assert said.hearers == said.to  # a neighbour on the ring
            if step < head:  # heard by the next step's observations at the latest
                assert set(said.hearers) == shown[said.seq] - {said.agent_id}, said
        assert step == 0 or addressed > 0
        if step < 4:
            assert found.injections == []
            continue
        (reach,) = found.injections
        assert reach.step == 4 and reach.strategy == "gradual" and reach.text == NEWS
        for wave in reach.waves:
            assert set(wave.agents) == shown[wave.seq]  # told that step, before deciding
            assert wave.via is None
        now = {a for w in reach.waves if w.step == step for a in w.agents}
        assert now and not now & reached  # nobody hears it twice
        reached |= now
        assert set(reach.heard) == reached
    # ⌈6·(i+1)/3⌉: 2, 4 and 6 agents after the three steps
    assert len(reached) == N

    with pytest.raises(InvalidRequest, match="step: 7 is outside"):
        step_hearings(store, branch.id, 7)
