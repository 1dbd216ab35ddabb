"""DESIGN §2 invariants 3, 4 and 5 at the engine level, as examples and as properties."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aegntix.brains.base import Brain, Decision, Observation
from aegntix.engine import Runner, Scheduler, start_scenario
from aegntix.inject import inject
from aegntix.model.scenario import AgentSpec, Scenario
from aegntix.timeline import SqlStore, state_at
from tests.engine.conftest import FreshStore, examples_on
from tests.engine.helpers import own_events, run, run_new, signature
from tests.engine.scenarios import scenarios
from tests.support import example


def test_fork_without_injection_reproduces_parent(fresh_store: FreshStore) -> None:
    """Invariant 3: fork at k, inject nothing, run on: the same events and hashes."""

    @examples_on(fresh_store.backend)
    @given(scenario=scenarios(), fork_fraction=st.floats(0, 1))
    def check(scenario: Scenario, fork_fraction: float) -> None:
        store = fresh_store(snapshot_every=7)
        try:
            parent = run_new(store, scenario)
            head = store.get_branch(parent)
            k = round(fork_fraction * state_at(store, parent)["completed"])
            child = store.fork(parent, k)
            run(store, child.id)
            assert signature(own_events(store, child.id, child.fork_seq)) == signature(
                own_events(store, parent, child.fork_seq)
            )
            assert store.get_branch(child.id).head_hash == head.head_hash
        finally:
            store.close()

    check()


def test_rerun_and_replay_are_deterministic(fresh_store: FreshStore) -> None:
    """Invariant 4: the same scenario and seed give the same events in a fresh database,
    and the state rebuilt from recorded events equals the live run's state."""

    @examples_on(fresh_store.backend)
    @given(scenario=scenarios())
    def check(scenario: Scenario) -> None:
        signatures, states = [], []
        for _ in range(2):
            store = fresh_store()
            try:
                branch = start_scenario(store, scenario)
                runner = Runner(store, branch.id)
                asyncio.run(runner.run())
                signatures.append(signature(list(store.events(branch.id))))
                assert state_at(store, branch.id) == runner.state
                states.append(runner.state)
            finally:
                store.close()
        assert signatures[0] == signatures[1]
        assert states[0] == states[1]

    check()


class _Forbidden:
    """A brain that must never be called."""

    name = "forbidden"

    async def decide(self, observation: Observation, rng: random.Random) -> Decision:
        raise AssertionError("replaying a recorded branch called a brain")


def test_reading_a_recorded_branch_calls_no_brain(store: SqlStore):
    """Invariant 4: state, outcomes and events of a recorded run come from its events."""
    scenario = example("negotiation")
    branch = run_new(store, scenario)
    live = state_at(store, branch)

    def forbidden(_: Scenario, __: AgentSpec) -> Brain:
        return _Forbidden()

    replay = Runner(store, branch, brains=forbidden)
    assert replay.state == live
    assert replay.is_done()
    assert asyncio.run(replay.step()) is None  # terminated: nothing to decide


def _solo_run(fresh_store, scenario, text: str) -> list:
    store = fresh_store()
    try:
        root = start_scenario(store, scenario)
        run(store, root.id, 3)
        fork = inject(store, root.id, text, at_step=3, new_branch=True).branch
        run(store, fork.id)
        return signature(own_events(store, fork.id, fork.fork_seq))
    finally:
        store.close()


def test_sibling_forks_run_interleaved_do_not_share_state(fresh_store):
    """Invariant 5 (and DESIGN §9, the Concordia lesson): two forks of one point, run
    concurrently, each produce exactly what they produce alone; the parent is untouched."""
    scenario = example("town-hall")
    texts = [
        "A new study shows the barrier will save homes and jobs.",
        "The plan will fail: costs double and flood risk stays.",
    ]
    alone = [_solo_run(fresh_store, scenario, t) for t in texts]

    store = fresh_store()
    try:
        root = start_scenario(store, scenario)
        run(store, root.id, 3)
        parent_before = signature(list(store.events(root.id)))
        forks = [inject(store, root.id, t, at_step=3, new_branch=True).branch for t in texts]

        async def both() -> None:
            scheduler = Scheduler(store, concurrency=2)
            await scheduler.run_all([f.id for f in forks])

        asyncio.run(both())
        together = [signature(own_events(store, f.id, f.fork_seq)) for f in forks]
        assert together == alone
        assert together[0] != together[1]
        assert signature(list(store.events(root.id))) == parent_before
    finally:
        store.close()


@pytest.mark.parametrize("name", ["negotiation", "town-hall", "incident-response"])
def test_child_sees_ancestors_only_up_to_fork(store: SqlStore, name: str):
    """Invariant 5: a child's history is the parent's up to the fork point, then its own."""
    scenario = example(name)
    parent = run_new(store, scenario, 6)
    child = store.fork(parent, 2)
    run(store, child.id, 2)
    run(store, parent, 2)  # the parent moves on after the fork
    child_events = list(store.events(child.id))
    inherited = [e for e in child_events if e.seq <= child.fork_seq]
    assert all(e.step <= 2 for e in inherited)
    assert signature(inherited) == signature(list(store.events(parent, to_seq=child.fork_seq)))
    assert state_at(store, child.id, 2) == state_at(store, parent, 2)
