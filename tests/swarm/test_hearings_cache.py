"""``step_hearings`` is cached: a repeated read is served from memory, and a cached answer
is always the one a fresh computation gives — after more steps are appended (events join
the head step, so its answer changes) and on a fork (which shares its parent's prefix but
not its later steps). "Fresh" is a second store on the same database file: its own cache,
empty, so it folds the timeline."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from aegntix.brains.base import Decision, Observation
from aegntix.engine import Runner, start_scenario
from aegntix.inject import inject
from aegntix.model.scenario import AgentSpec, Scenario
from aegntix.swarm.hearings import StepHearings, step_hearings
from aegntix.timeline import SqlStore, open_sqlite_store

from .support import FunctionBrain, swarm

N = 6


def _talk(obs: Observation, rng: random.Random) -> Decision:
    me = int(obs.agent.id[1:])
    to = [f"a{(me + 1) % N}"] if (obs.step + me) % 2 == 0 else None
    stance = max(-1.0, min(1.0, float(obs.own["stance"]) + rng.uniform(-0.1, 0.1)))
    return Decision(action="say", content=f"a{me} at {obs.step}", to=to, stance=round(stance, 4))


def _run(store: SqlStore, branch_id: str, steps: int) -> None:
    def factory(_scenario: Scenario, _agent: AgentSpec) -> FunctionBrain:
        return FunctionBrain(_talk, [])

    asyncio.run(Runner(store, branch_id, brains=factory).run(steps))


def _fresh(path: Path, branch_id: str, step: int) -> StepHearings:
    other = open_sqlite_store(path)
    try:
        return step_hearings(other, branch_id, step)
    finally:
        other.close()


def _seen(found: StepHearings) -> tuple[object, ...]:
    """What was heard at the step (not which branch or head it was read from)."""
    return found.stances, found.said, found.injections


def _all_match(store: SqlStore, path: Path, branch_id: str) -> None:
    head = store.get_branch(branch_id).head_step
    for step in range(head + 1):
        cached = step_hearings(store, branch_id, step)
        assert cached == _fresh(path, branch_id, step), (branch_id, step)
        assert cached.head_step == head


def test_cached_hearings_equal_fresh_ones_as_steps_are_appended_and_on_a_fork(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hearings.db"
    store = open_sqlite_store(path)
    try:
        branch = start_scenario(store, swarm(N, "ring")).id
        _run(store, branch, 2)
        _all_match(store, path, branch)

        # served from the cache while nothing it read has changed
        first = step_hearings(store, branch, 1)
        again = step_hearings(store, branch, 1)
        assert again.said is first.said

        # an injection for the next step: the head step now holds it alone ...
        inject(store, branch, "The bridge will be built.", strategy="broadcast")
        head = store.get_branch(branch).head_step
        alone = step_hearings(store, branch, head)
        assert alone.said == [] and len(alone.injections) == 1
        # ... then the run appends that step's messages: the answer for it changes
        _run(store, branch, 2)
        grown = step_hearings(store, branch, head)
        assert grown.said and grown == _fresh(path, branch, head)
        _all_match(store, path, branch)
        # an earlier step kept its answer, now reporting the new head
        assert step_hearings(store, branch, 1).said is first.said
        assert step_hearings(store, branch, 1).head_step == 4

        # a fork at step 2 shares the parent's first steps, then takes its own course
        fork = store.fork(branch, 2).id
        inject(store, fork, "The bridge is cancelled.", strategy="broadcast")
        _run(store, fork, 3)
        _all_match(store, path, fork)
        _all_match(store, path, branch)  # the parent's answers are still its own
        assert _seen(step_hearings(store, fork, 3)) != _seen(step_hearings(store, branch, 3))
        assert _seen(step_hearings(store, fork, 1)) == _seen(step_hearings(store, branch, 1))
    finally:
        store.close()
