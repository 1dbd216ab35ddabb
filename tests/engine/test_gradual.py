"""A gradual injection spreads from the timeline, so forks and replays inherit it exactly:
fork at any step during the spread, inject nothing, run on -> the parent's events
(invariant 3); a re-run in a fresh database is identical (invariant 4); a fork before the
injection never hears it (invariant 5). Runs are split so a resumed runner must find the
waves still due in the timeline."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from aegntix.engine import Runner, start_scenario
from aegntix.errors import BranchFinished
from aegntix.inject import inject
from aegntix.model.events import Event, EventKind
from aegntix.model.scenario import Scenario
from aegntix.model.state import STEP_END
from aegntix.timeline import SqlStore, state_at
from tests.engine.helpers import own_events, run, signature
from tests.engine.scenarios import scenarios
from tests.support import example

NEWS = "An independent study finds the barrier will save homes and jobs."


def _injections(events: list[Event]) -> list[Event]:
    return [e for e in events if e.kind == EventKind.INJECTION]


def _spread_run(store: SqlStore, scenario: Scenario, at: int, schedule: dict[str, Any]) -> str:
    """Run to ``at``, inject a gradual spread, run two steps, then (a new runner) to the end."""
    root = start_scenario(store, scenario)
    run(store, root.id, at)
    try:
        inject(store, root.id, NEWS, strategy="gradual", schedule=schedule)
    except BranchFinished:
        assume(False)  # it ended before the injection: nothing to spread
    run(store, root.id, 2)
    run(store, root.id)
    return root.id


@st.composite
def cases(draw: st.DrawFn) -> tuple[Scenario, int, dict[str, Any], float]:
    """A scenario, the step to inject after, a schedule, and where to fork."""
    scenario = draw(scenarios())
    at = draw(st.integers(0, 2))
    if draw(st.booleans()):
        schedule: dict[str, Any] = {"steps": draw(st.integers(1, 5))}
    else:
        ids = [a.id for a in scenario.agents]
        order = draw(st.permutations(ids))
        cut = draw(st.integers(1, len(ids)))
        offsets = sorted(draw(st.sets(st.integers(0, 6), min_size=2, max_size=2)))
        schedule = {
            "waves": [
                {"offset": offsets[0], "agents": list(order[:cut])},
                *([{"offset": offsets[1], "agents": list(order[cut:])}] if order[cut:] else []),
            ]
        }
    # where to fork: anywhere (a fraction of the run), or (negative) during the spread
    anywhere = draw(st.booleans())
    return scenario, at, schedule, draw(st.floats(0, 1)) * (1 if anywhere else -1)


@settings(max_examples=12)
@given(case=cases())
def test_forks_inherit_a_pending_spread_exactly(fresh_store, case) -> None:
    scenario, at, schedule, where = case
    store = fresh_store(snapshot_every=5)
    try:
        parent = _spread_run(store, scenario, at, schedule)
        events = list(store.events(parent))
        (landed, *waves) = _injections(events)
        assert all(w.payload["wave"]["of"] == landed.seq for w in waves)
        completed = int(state_at(store, parent)["completed"])
        if where >= 0:
            k = round(where * completed)
        else:  # between the landing step and the last wave (or the end of the run)
            last = min(completed, landed.step + max(w["offset"] for w in landed.payload["waves"]))
            k = landed.step + round(-where * (last - landed.step))
        child = store.fork(parent, k)
        run(store, child.id)
        mine = own_events(store, child.id, child.fork_seq)
        if k < landed.step:  # invariant 5: a fork before the injection never hears it
            inherited = list(store.events(child.id, to_seq=child.fork_seq))
            assert not _injections(inherited + mine)
        else:  # invariant 3: it inherits the pending waves and reproduces the parent
            assert signature(mine) == signature(own_events(store, parent, child.fork_seq))
            assert store.get_branch(child.id).head_hash == store.get_branch(parent).head_hash
    finally:
        store.close()


@settings(max_examples=6)
@given(case=cases())
def test_a_spread_reruns_identically_in_a_fresh_database(fresh_store, case) -> None:
    """Invariant 4: the waves are a function of the recorded injection and the seed."""
    scenario, at, schedule, _ = case
    runs = []
    for _ in range(2):
        store = fresh_store()
        try:
            branch = _spread_run(store, scenario, at, schedule)
            runs.append(signature(list(store.events(branch))))
        finally:
            store.close()
    assert runs[0] == runs[1]


def test_each_wave_lands_at_its_step_and_only_its_agents_hear_it(store: SqlStore) -> None:
    scenario = example("town-hall")
    root = start_scenario(store, scenario)
    run(store, root.id, 2)
    schedule = {
        "waves": [
            {"offset": 0, "agents": ["mayor"]},
            {"offset": 2, "agents": ["shop", "retiree"]},
        ]
    }
    landed = inject(store, root.id, NEWS, strategy="gradual", schedule=schedule).events[0]
    assert landed.step == 3
    assert landed.payload["waves"] == [
        {"offset": 0, "agents": ["mayor"]},
        {"offset": 2, "agents": ["retiree", "shop"]},
    ]
    run(store, root.id, 4)
    found = _injections(list(store.events(root.id)))
    assert [(e.step, e.payload["targets"]) for e in found] == [
        (3, None),
        (5, ["retiree", "shop"]),
    ]
    step5 = [e for e in store.events(root.id) if e.step == 5]
    assert step5[0].kind == EventKind.INJECTION  # written before any agent of step 5 decides
    # each step_end names the spreads still open after it (what a resumed runner reads)
    ends = {e.step: e.payload for e in store.events(root.id) if e.payload.get("type") == STEP_END}
    assert [ends[s].get("spreading") for s in (3, 4, 5, 6)] == [
        [landed.seq],
        [landed.seq],
        None,
        None,
    ]
    assert "spreading" not in ends[2]
    # an agent outside a wave never hears it; inside, from its wave's step on
    runner = Runner(store, root.id)
    seen = {
        a.id: [e.step for e in runner.window.for_agent(a.id) if e.kind == "injection"]
        for a in scenario.agents
    }
    assert seen["shop"] == [5] and seen["retiree"] == [5]
    assert seen["teacher"] == [] and seen["mayor"] == []  # the mayor's (step 3) left the window
