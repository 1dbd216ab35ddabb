"""Runner and Scheduler: stepping, pausing, resuming after a failure, many branches at once."""

from __future__ import annotations

import asyncio
import random

import pytest

from aegntix.brains.base import Brain, Decision, Observation
from aegntix.brains.rules import RulesBrain
from aegntix.engine import Runner, Scheduler, start_scenario
from aegntix.errors import BranchBusy
from aegntix.model.events import BranchStatus
from aegntix.model.scenario import AgentSpec, Scenario
from aegntix.timeline import SqlStore, state_at
from tests.engine.helpers import run, run_new, signature
from tests.support import example


def test_step_by_step_equals_a_whole_run(store: SqlStore):
    scenario = example("town-hall")
    whole = run_new(store, scenario)
    stepped = start_scenario(store, scenario)
    runner = Runner(store, stepped.id)
    steps = 0
    while (result := asyncio.run(runner.step())) is not None:
        steps += 1
        assert result.step == steps
        if result.terminal:
            break
    assert steps == scenario.termination.max_steps
    assert signature(list(store.events(stepped.id))) == signature(list(store.events(whole)))


def test_pause_stops_after_the_current_step(store: SqlStore):
    branch = start_scenario(store, example("town-hall"))
    runner = Runner(store, branch.id)

    def pause_at_three(result) -> None:
        if result.step == 3:
            runner.pause()

    summary = asyncio.run(runner.run(on_step=pause_at_three))
    assert summary.status is BranchStatus.PAUSED
    assert summary.completed_step == 3
    assert store.get_branch(branch.id).status is BranchStatus.PAUSED
    resumed = run(store, branch.id)
    assert resumed.status is BranchStatus.DONE


class _CrashAt:
    """Delegates to the rules brain, but fails once at a given step (a provider outage)."""

    name = "crashy"

    def __init__(self, step: int) -> None:
        self.step = step
        self.inner = RulesBrain()

    async def decide(self, observation: Observation, rng: random.Random) -> Decision:
        if observation.step == self.step:
            raise RuntimeError("provider outage")
        return await self.inner.decide(observation, rng)


def test_resume_after_a_failure_continues_from_the_last_whole_step(store: SqlStore):
    scenario = example("incident-response")
    clean = run_new(store, scenario)
    broken = start_scenario(store, scenario)

    def crashy(_: Scenario, __: AgentSpec) -> Brain:
        return _CrashAt(4)

    with pytest.raises(RuntimeError):
        asyncio.run(Runner(store, broken.id, brains=crashy).run())
    failed = store.get_branch(broken.id)
    assert failed.status is BranchStatus.FAILED
    assert state_at(store, broken.id)["completed"] == 3  # step 4 left nothing behind
    # an unexpected error is recorded as internal, with a generic reason: nothing of its text
    assert failed.failure is not None
    assert (failed.failure.type, failed.failure.step) == ("InternalError", 4)
    assert "outage" not in failed.failure.detail and "unexpected" in failed.failure.detail
    run(store, broken.id)
    assert store.get_branch(broken.id).failure is None  # a run that completes clears it
    assert signature(list(store.events(broken.id))) == signature(list(store.events(clean)))


def test_two_runners_on_one_branch_cannot_both_write(store: SqlStore):
    branch = start_scenario(store, example("negotiation"))
    first, second = Runner(store, branch.id), Runner(store, branch.id)
    asyncio.run(first.step())
    with pytest.raises(BranchBusy):
        asyncio.run(second.step())
    assert asyncio.run(second.step()) is not None  # it reloaded and can go on


def test_scheduler_runs_many_branches_each_as_if_alone(store: SqlStore):
    scenario = example("negotiation")
    alone = run_new(store, scenario, seed=1)
    roots = [start_scenario(store, scenario, seed=1 + (i % 3)) for i in range(24)]

    async def all_of_them() -> dict:
        return await Scheduler(store, concurrency=4).run_all([b.id for b in roots])

    results = asyncio.run(all_of_them())
    assert all(s.status is BranchStatus.DONE for s in results.values())
    expected = signature(list(store.events(alone)))
    same_seed = [b for i, b in enumerate(roots) if i % 3 == 0]
    for b in same_seed:
        assert signature(list(store.events(b.id))) == expected
    stats = store.stats()
    assert stats["requests"] > stats["commits"]  # group commit batched concurrent appends
