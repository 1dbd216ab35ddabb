"""Invariants 3 and 4 with the consensus protocols: for any seed and fork step, a fork with
no intervention reproduces its parent's events byte for byte (hashes), and the state folded
from the recorded events is the state the runner ended with (a property over seeds and
steps, on each protocol's example and a bounded-confidence debate)."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aegntix.engine import Runner, start_scenario
from aegntix.model.loading import validate_scenario
from aegntix.timeline import open_sqlite_store
from aegntix.timeline.state import state_at
from tests.support import example

DELPHI = example("crisis_delphi")
VOTE = example("council_vote")
DEBATE = validate_scenario(
    {
        **example("town-hall").model_dump(mode="json", exclude={"mechanics"}),
        "mechanics": {"bounded_confidence": {"tolerance": 0.3}},
    }
)


def _with_seed(scenario: Any, seed: int) -> Any:
    return scenario.model_copy(update={"seed": seed})


@settings(max_examples=4, deadline=None)
@given(
    st.sampled_from([DELPHI, VOTE, DEBATE]),
    st.integers(0, 2**31),
    st.integers(0, 3),
)
def test_a_fork_without_intervention_reproduces_its_parent(
    tmp_path_factory: Any, scenario: Any, seed: int, at: int
):
    store = open_sqlite_store(tmp_path_factory.mktemp("forks") / "t.db")
    try:
        branch = start_scenario(store, _with_seed(scenario, seed))
        runner = Runner(store, branch.id)
        asyncio.run(runner.run(4))
        done = int(state_at(store, branch.id)["completed"])
        at = min(at, done)
        child = store.fork(branch.id, at_step=at)
        if done > at:
            asyncio.run(Runner(store, child.id).run(done - at))
        parent = [(e.seq, e.kind, e.payload, e.hash) for e in store.events(branch.id)]
        assert [(e.seq, e.kind, e.payload, e.hash) for e in store.events(child.id)] == parent
        assert state_at(store, branch.id) == runner.state
    finally:
        store.close()
