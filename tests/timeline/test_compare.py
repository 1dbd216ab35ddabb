"""compare(): divergence point, events since, world and outcome differences, drift series."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from aegntix.errors import BranchNotFound
from aegntix.model.events import EventKind, NewEvent
from aegntix.model.scenario import Scenario
from aegntix.model.state import initial_patch
from aegntix.model.stored import SPEC_VERSION
from aegntix.timeline import SqlStore, compare
from aegntix.timeline.compare import outcome_deltas, outcome_distance

from .helpers import msg

DEAL: dict[str, Any] = Scenario.model_validate(
    {
        "name": "deal",
        "world": {"price": 100, "deal_reached": False},
        "agents": [
            {"id": "a", "name": "A", "role": "buyer", "stance": 0.0},
            {"id": "b", "name": "B", "role": "seller", "stance": 0.5},
        ],
        "termination": {"max_steps": 50},
        "outcomes": {
            "price": "price",
            "deal": "deal_reached",
            "stance": {"expr": "stance", "per_agent": True},
        },
    }
).model_dump(mode="json")


def patch(step: int, **sets: Any) -> NewEvent:
    return NewEvent(step, EventKind.WORLD, {"set": sets})


def _root(store: SqlStore) -> str:
    scenario = store.create_scenario("deal", DEAL)
    b = store.create_branch(scenario.id, seed=3).id
    store.append(
        b, [NewEvent(0, EventKind.WORLD, {"set": initial_patch(Scenario.model_validate(DEAL))})]
    )
    for step in (1, 2):
        store.append(b, [msg(step, f"offer {step}"), patch(step, **{"world.price": 100 - step})])
    return b


def test_two_forks_with_different_futures(store: SqlStore) -> None:
    root = _root(store)
    a = store.fork(root, 2).id
    b = store.fork(root, 2).id
    store.append(a, [patch(3, **{"world.price": 90}), msg(3, "deal?")])
    store.append(a, [patch(4, **{"world.deal_reached": True})])
    store.append(b, [patch(3, **{"world.price": 120, "agents.a.stance": 0.4})])

    c = compare(store, a, b)
    assert c.common_ancestor == root
    assert (c.divergence_seq, c.divergence_step) == (6, 3)
    assert [e.seq for e in c.only_a] == [6, 7, 8] and c.only_a_count == 3
    assert [e.payload for e in c.only_b] == [{"set": {"world.price": 120, "agents.a.stance": 0.4}}]
    assert c.only_b_count == 1
    assert c.world_diff == {
        "world.price": (90, 120),
        "world.deal_reached": (True, False),
        "agents.a.stance": (0.0, 0.4),
    }
    assert c.outcomes_a == {"price": 90, "deal": True, "stance": {"a": 0.0, "b": 0.5}}
    assert c.outcomes_b == {"price": 120, "deal": False, "stance": {"a": 0.4, "b": 0.5}}
    assert c.outcome_deltas == {"price": 30, "deal": -1, "stance": {"a": 0.4, "b": 0.0}}
    assert [s for s, _ in c.divergence_series] == [3, 4]
    at3, at4 = (d for _, d in c.divergence_series)
    # step 3: price 90 vs 120 (30/120), deal equal, stance a 0.4/1 averaged over 2 agents.
    assert at3 == pytest.approx((30 / 120 + 0 + 0.2) / 3, abs=1e-6)
    assert at4 == pytest.approx((30 / 120 + 1 + 0.2) / 3, abs=1e-6)
    assert c.diverged


def test_identical_and_prefix_branches(store: SqlStore) -> None:
    root = _root(store)
    same = store.fork(root, 2)
    c = compare(store, root, same.id)
    assert (c.divergence_seq, c.only_a, c.only_b, c.world_diff) == (None, [], [], {})
    assert c.outcome_deltas == {"price": 0, "deal": 0, "stance": {"a": 0.0, "b": 0.0}}
    assert all(d == 0.0 for _, d in c.divergence_series) and c.divergence_series
    early = store.fork(root, 1)  # a strict prefix of root
    c = compare(store, root, early.id)
    assert (c.divergence_seq, c.divergence_step, c.only_a_count, c.only_b_count) == (4, 2, 2, 0)
    assert c.world_diff == {"world.price": (98, 99)}


def test_null_intervention_fork_does_not_diverge(store: SqlStore) -> None:
    root = _root(store)
    store.append(root, [msg(3, "later"), patch(4, **{"world.price": 1})])
    child = store.fork(root, 1)
    store.append(child.id, [e_new(e) for e in store.events(root, from_seq=child.fork_seq + 1)])
    c = compare(store, root, child.id)
    assert c.divergence_seq is None and c.common_ancestor == root


def e_new(e: Any) -> NewEvent:
    return NewEvent(e.step, e.kind, e.payload, e.agent_id)


def test_unrelated_roots_compare_by_hash(store: SqlStore) -> None:
    a, b = _root(store), _root(store)  # same content, separate scenarios
    assert compare(store, a, b).divergence_seq is None
    store.append(b, [msg(3, "only b")])
    c = compare(store, a, b)
    assert (c.common_ancestor, c.divergence_seq, c.only_b_count) == (None, 6, 1)


def test_divergence_found_deep_in_a_long_shared_replay(store: SqlStore) -> None:
    root = _root(store)
    tail = [msg(3 + i // 4, f"m{i}") for i in range(400)]
    store.append(root, tail)
    child = store.fork(root, 2)
    store.append(child.id, [*tail[:250], msg(3 + 250 // 4, "different")])
    c = compare(store, root, child.id)
    assert c.divergence_seq == 5 + 250 + 1
    assert c.only_b[0].payload == {"text": "different"}


def test_spec_that_is_not_a_scenario_still_compares(store: SqlStore) -> None:
    scenario = store.create_scenario("raw", {"anything": 1})
    a = store.create_branch(scenario.id, seed=1).id
    store.append(a, [patch(0, **{"world.x": 1})])
    b = store.fork(a, 0).id
    store.append(b, [patch(1, **{"world.x": 2})])
    c = compare(store, a, b)
    assert c.outcomes_a == {} and c.world_diff == {"world.x": (1, 2)}
    assert c.divergence_series == [(1, 0.0)]


def test_the_scenario_is_read_as_every_reader_reads_it(store: SqlStore) -> None:
    """Through ``scenario_of`` (upgraded by its spec version, parsed once): a spec stored by
    a newer AegntiX is not misread as today's schema; its branches still compare by events
    and worlds."""
    a = _root(store)
    b = store.fork(a, 1).id
    store.append(b, [patch(2, **{"world.price": 50})])
    assert compare(store, a, b).outcomes_b["price"] == 50
    scenario_id = store.get_branch(a).scenario_id
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE scenarios SET spec_version = :v WHERE id = :id"),
            {"v": SPEC_VERSION + 1, "id": scenario_id},
        )
    c = compare(store, a, b)
    assert c.outcomes_a == {} and c.outcomes_b == {}
    assert c.world_diff["world.price"] == (98, 50)


def test_unknown_branch(store: SqlStore) -> None:
    with pytest.raises(BranchNotFound):
        compare(store, "nope", _root(store))


def test_delta_and_distance_helpers() -> None:
    a = {"n": 2, "flag": False, "who": "x", "per": {"p": 1.0, "q": 0.0}}
    b = {"n": 5, "flag": True, "who": "y", "per": {"p": 0.5, "r": 1.0}}
    assert outcome_deltas(a, b) == {
        "flag": 1,
        "n": 3,
        "per": {"p": -0.5, "q": (0.0, None), "r": (None, 1.0)},
        "who": ("x", "y"),
    }
    expected = (3 / 5 + 1 + 1 + (0.5 + 1 + 1) / 3) / 4
    assert outcome_distance(a, b) == pytest.approx(expected)
    assert outcome_distance({}, {}) == 0.0
