"""Queued rollout sets and their adoption by workers, on the machine's PostgreSQL: a queued
set reads driven however long it waits, one worker adopts a set and its control (all or
none), a dead driver's lapsed lease is adopted, a stopping driver hands its sets back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from aegntix.analysis.driving import QUEUED, SetLeases, driven, orphaned, queue_sets
from aegntix.errors import BranchBusy
from aegntix.timeline.schema import set_leases
from aegntix.timeline.sqlstore import SqlStore


def _lapse(store: SqlStore, set_id: str) -> None:
    """As if the holder died a TTL ago (the row says so: no clock games)."""
    store.write(
        lambda c: c.execute(
            update(set_leases).where(set_leases.c.set_id == set_id).values(expires_at=0.0)
        )
    )


def test_a_queued_set_is_adopted_by_one_worker_with_its_control(pg_store: SqlStore) -> None:
    queue_sets(pg_store, ["s", "c"], "t")
    queue_sets(pg_store, ["s", "c"], "t")  # queued again: no-op
    assert driven(pg_store, ["s", "c"]) == {"s", "c"}  # waiting reads driven
    assert sorted(orphaned(pg_store)) == [("c", "t"), ("s", "t")]

    w1, w2 = SetLeases(pg_store, owner="w1"), SetLeases(pg_store, owner="w2")
    assert w1.adopt(["s", "c"], "t")
    assert not w2.adopt(["s", "c"], "t")  # first come
    assert orphaned(pg_store) == []
    with pytest.raises(BranchBusy):
        queue_sets(pg_store, ["s", "c"], "t")  # a live driver has them
    assert w1.renew(["s", "c"]) == []


def test_adoption_is_all_or_none(pg_store: SqlStore) -> None:
    SetLeases(pg_store, owner="other").take(["c"], "t")  # a control another driver runs
    queue_sets(pg_store, ["s"], "t")
    w = SetLeases(pg_store, owner="w")
    assert not w.adopt(["s", "c"], "t")
    assert orphaned(pg_store) == [("s", "t")]  # s still queued, not half-taken
    _lapse(pg_store, "c")  # the control's driver died
    assert w.adopt(["s", "c"], "t")


def test_a_dead_drivers_set_is_adopted_and_a_stopping_one_hands_back(pg_store: SqlStore) -> None:
    dead, w = SetLeases(pg_store, owner="dead"), SetLeases(pg_store, owner="w")
    assert dead.adopt(["s"], "t")
    assert orphaned(pg_store) == []  # live: nobody else's
    _lapse(pg_store, "s")
    assert orphaned(pg_store) == [("s", "t")]
    assert w.adopt(["s"], "t")
    assert dead.renew(["s"]) == ["s"]  # the old driver learns it lost the set

    w.hand_back(["s"])
    assert orphaned(pg_store) == [("s", "t")] and driven(pg_store, ["s"]) == {"s"}
    w.release(["s"])  # not its own any more: nothing happens
    assert driven(pg_store, ["s"]) == {"s"}


def _owner(store: SqlStore) -> str | None:
    with store.reading() as conn:
        return conn.execute(select(set_leases.c.owner)).scalar()


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["adopt", "lapse", "back"])),
        max_size=12,
    )
)
def test_one_owner_whatever_happens(pg_store: SqlStore, ops: list[tuple[str, str]]) -> None:
    """Whatever adoptions, deaths (a lapse) and hand-backs happen, the set has the owner a
    model says: adopted only when queued or lapsed, and driven unless lapsed."""
    pg_store.write(lambda c: c.execute(delete(set_leases)))
    queue_sets(pg_store, ["s"], "t")
    leases = {name: SetLeases(pg_store, owner=name) for name in "abc"}
    owner, lapsed = QUEUED, False
    for name, op in ops:
        if op == "adopt":
            took = leases[name].adopt(["s"], "t")
            assert took == (owner == QUEUED or lapsed)
            if took:
                owner, lapsed = name, False
        elif op == "lapse" and owner != QUEUED:
            _lapse(pg_store, "s")
            lapsed = True
        elif op == "back":
            leases[name].hand_back(["s"])
            if owner == name:
                owner, lapsed = QUEUED, False
        assert _owner(pg_store) == owner
        assert driven(pg_store, ["s"]) == (set() if lapsed else {"s"})
