"""The Store contract, run against every backend in ``conftest.BACKENDS``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aegntix.errors import (
    BranchBusy,
    BranchNotFound,
    ForkOutOfRange,
    InvalidRequest,
    ScenarioNotFound,
    StoreError,
)
from aegntix.model.events import (
    GENESIS_HASH,
    BranchStatus,
    EventKind,
    NewEvent,
    canonical_json,
    event_hash,
)
from aegntix.timeline import SqlStore, Store, state_at
from aegntix.timeline.prepare import chain_hash, prepare

from .conftest import StoreFactory
from .helpers import SPEC, assert_chain, counts, msg, root, steps, world


def test_scenarios_roundtrip(store: SqlStore) -> None:
    rec = store.create_scenario("deal", {"b": [1, 2], "a": {"z": 1, "y": "é"}})
    assert rec.spec == {"a": {"y": "é", "z": 1}, "b": [1, 2]}
    assert len(rec.spec_hash) == 64
    again = store.get_scenario(rec.id)
    assert again == rec
    assert again.created_at is not None and again.created_at.tzinfo is not None
    other = store.create_scenario("other", {})
    assert [s.id for s in store.list_scenarios()] == [rec.id, other.id]
    with pytest.raises(ScenarioNotFound):
        store.get_scenario("nope")
    with pytest.raises(InvalidRequest):
        store.create_scenario("bad", {"x": object()})


def test_root_branch(store: SqlStore) -> None:
    scenario = store.create_scenario("s", SPEC)
    b = store.create_branch(scenario.id, seed=42, label="main")
    assert (b.parent_id, b.fork_seq, b.fork_step, b.head_seq, b.head_step) == (None, 0, 0, 0, 0)
    assert b.head_hash == GENESIS_HASH and b.status is BranchStatus.IDLE and b.seed == 42
    assert store.get_branch(b.id) == b
    assert store.lineage(b.id) == [b]
    assert store.list_branches(scenario.id) == [b]
    with pytest.raises(ScenarioNotFound):
        store.create_branch("nope", seed=1)
    with pytest.raises(BranchNotFound):
        store.get_branch("nope")
    with pytest.raises(BranchNotFound):
        store.lineage("nope")
    with pytest.raises(InvalidRequest):
        store.create_branch(scenario.id, seed=2**64)


def test_append_assigns_seq_and_chains_hashes(store: SqlStore) -> None:
    b = root(store)
    first = store.append(b, [world(0, x=1), msg(0)])
    second = store.append(b, [msg(1), msg(1, "again")])
    assert [e.seq for e in first + second] == [1, 2, 3, 4]
    assert_chain(first + second)
    head = store.get_branch(b)
    assert (head.head_seq, head.head_step, head.head_hash) == (4, 1, second[-1].hash)
    assert list(store.events(b)) == first + second


def test_events_returned_equal_events_read(store: SqlStore) -> None:
    b = root(store)
    # A tuple and int keys are not JSON-native: what append returns must equal what is read.
    returned = store.append(b, [NewEvent(0, EventKind.ACTION, {"t": (1, 2), "m": {1: "x"}})])
    assert returned == list(store.events(b))
    assert returned[0].payload == {"t": [1, 2], "m": {"1": "x"}}


def test_append_validation(store: SqlStore) -> None:
    b = root(store)
    store.append(b, [msg(3)])
    before = counts(store)
    with pytest.raises(InvalidRequest, match="backwards"):
        store.append(b, [msg(2)])
    with pytest.raises(InvalidRequest, match="goes back"):
        store.append(b, [msg(5), msg(4)])
    with pytest.raises(InvalidRequest, match="kind"):
        store.append(b, [NewEvent(3, "shout", {})])  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest):
        store.append(b, [NewEvent(-1, EventKind.MESSAGE, {})])
    with pytest.raises(InvalidRequest):
        store.append(b, [NewEvent(3, EventKind.MESSAGE, ["not", "an", "object"])])  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest):
        store.append(b, [msg(3), NewEvent(3, EventKind.MESSAGE, {"x": {1, 2}})])
    with pytest.raises(BranchNotFound):
        store.append("nope", [msg(3)])
    assert counts(store) == before
    assert store.get_branch(b).head_seq == 1


def test_empty_append_writes_nothing(store: SqlStore) -> None:
    b = root(store)
    commits = store.stats()["commits"]
    assert store.append(b, []) == []
    assert store.stats()["commits"] == commits


def test_expect_seq(store: SqlStore) -> None:
    b = root(store)
    store.append(b, [msg(0)], expect_seq=0)
    with pytest.raises(BranchBusy):
        store.append(b, [msg(0)], expect_seq=0)
    assert [e.seq for e in store.append(b, [msg(1)], expect_seq=1)] == [2]


def test_event_filters(store: SqlStore) -> None:
    b = root(store)
    steps(store, b, 0, 9, per_step=3)  # 30 events, 3 per step
    assert [e.seq for e in store.events(b, from_seq=5, to_seq=7)] == [5, 6, 7]
    assert [e.step for e in store.events(b, from_step=2, to_step=3)] == [2, 2, 2, 3, 3, 3]
    assert [e.seq for e in store.events(b, from_step=9, to_seq=29)] == [28, 29]
    assert list(store.events(b, from_seq=40)) == []
    assert store.seq_at_step(b, 0) == 3
    assert store.seq_at_step(b, 4) == 15
    assert store.seq_at_step(b, 99) == 30
    assert store.seq_at_step(b, -1) == 0
    with pytest.raises(BranchNotFound):  # eager: raised by the call, not on first next()
        store.events("nope")


def test_events_stream_across_pages(store: SqlStore) -> None:
    b = root(store)
    steps(store, b, 0, 1500, per_step=2)  # 3002 events: several pages
    got = list(store.events(b))
    assert len(got) == 3002
    assert_chain(got)


def test_fork_and_lineage(store: SqlStore) -> None:
    b = root(store)
    steps(store, b, 0, 5)  # seqs 1..12, two per step
    child = store.fork(b, 2, label="what-if")
    assert (child.parent_id, child.fork_seq, child.fork_step) == (b, 6, 2)
    assert (child.head_seq, child.head_step, child.label) == (6, 2, "what-if")
    assert child.seed == store.get_branch(b).seed
    parent_events = list(store.events(b))
    assert child.head_hash == parent_events[5].hash
    assert list(store.events(child.id)) == parent_events[:6]
    grand = store.fork(child.id, 1, seed=99)
    assert (grand.fork_seq, grand.seed, grand.label) == (4, 99, "fork@1")
    assert [m.id for m in store.lineage(grand.id)] == [grand.id, child.id, b]
    assert [x.id for x in store.list_branches()] == [b, child.id, grand.id]


def test_fork_inside_an_ancestors_range(store: SqlStore) -> None:
    b = root(store)
    steps(store, b, 0, 9)
    child = store.fork(b, 6)
    steps(store, child.id, 7, 9)
    grand = store.fork(child.id, 3)  # step 3 lies in the root's rows
    assert grand.fork_seq == 8
    assert list(store.events(grand.id)) == list(store.events(b, to_seq=8))
    store.append(grand.id, [msg(3, "grand")])
    got = list(store.events(grand.id))
    assert [e.seq for e in got] == list(range(1, 10))
    assert_chain(got)


def test_fork_when_no_event_at_that_step(store: SqlStore) -> None:
    b = root(store)
    store.append(b, [msg(0), msg(5), msg(9)])
    child = store.fork(b, 7)
    assert (child.fork_seq, child.fork_step, child.head_step) == (2, 7, 5)
    assert store.fork(b, 0).fork_seq == 1


def test_fork_errors_leave_db_unchanged(store: SqlStore) -> None:
    b = root(store)
    steps(store, b, 0, 4)
    before = counts(store)
    with pytest.raises(ForkOutOfRange, match="step 4"):
        store.fork(b, 5)
    with pytest.raises(ForkOutOfRange):
        store.fork(b, -1)
    with pytest.raises(BranchNotFound):
        store.fork("nope", 0)
    with pytest.raises(InvalidRequest):
        store.fork(b, 1, label="")
    assert counts(store) == before


def test_status(store: SqlStore) -> None:
    b = root(store)
    store.set_status(b, BranchStatus.RUNNING)
    assert store.get_branch(b).status is BranchStatus.RUNNING
    with pytest.raises(InvalidRequest):
        store.set_status(b, "sleeping")  # type: ignore[arg-type]
    with pytest.raises(BranchNotFound):
        store.set_status("nope", BranchStatus.DONE)


def test_latest_snapshot_and_state_at(make_store: StoreFactory) -> None:
    store = make_store(snapshot_every=5)
    b = root(store)
    steps(store, b, 0, 9)  # 20 events: snapshots at 5, 10, 15, 20
    snap = store.latest_snapshot(b, 13)
    assert snap is not None and (snap.branch_id, snap.seq, snap.step) == (b, 10, 4)
    assert snap.state["world"] == {"x": 4, "last": "s4"}
    assert store.latest_snapshot(b, 4) is None
    child = store.fork(b, 6)  # fork_seq 14
    csnap = store.latest_snapshot(child.id, 100)
    assert csnap is not None and (csnap.branch_id, csnap.seq) == (b, 10)
    assert state_at(store, child.id)["world"] == {"x": 6, "last": "s6"}
    assert state_at(store, b, 3)["world"] == {"x": 3, "last": "s3"}
    assert state_at(store, b)["step"] == 9
    with pytest.raises(ForkOutOfRange):
        state_at(store, b, 10)
    with pytest.raises(ForkOutOfRange):
        state_at(store, b, -1)


def test_append_async(store: SqlStore) -> None:
    b = root(store)

    async def go() -> list[int]:
        done = await asyncio.gather(*(store.append_async(b, [msg(0, f"{i}")]) for i in range(50)))
        return sorted(e.seq for batch in done for e in batch)

    assert asyncio.run(go()) == list(range(1, 51))
    assert_chain(list(store.events(b)))


def test_append_async_errors(store: SqlStore) -> None:
    b = root(store)

    async def go() -> None:
        await store.append_async(b, [msg(0)], expect_seq=5)

    with pytest.raises(BranchBusy):
        asyncio.run(go())


def test_reopen_keeps_everything(make_store: StoreFactory, tmp_path: Path) -> None:
    first = make_store(where=tmp_path / "kept")
    b = root(first)
    steps(first, b, 0, 3)
    child = first.fork(b, 1)
    first.close()
    again = make_store(where=tmp_path / "kept")
    assert again.get_branch(child.id).head_seq == 4
    got = again.append(child.id, [msg(1, "after reopen")])
    assert got[0].seq == 5
    assert_chain(list(again.events(child.id)))


def test_closed_store_refuses_writes(make_store: StoreFactory) -> None:
    s = make_store()
    b = root(s)
    s.close()
    s.close()  # idempotent
    with pytest.raises(StoreError):
        s.append(b, [msg(0)])


def test_satisfies_protocol(store: SqlStore) -> None:
    as_store: Store = store
    assert callable(as_store.append)
    # The store offers no way to change or remove an event (invariant 1).
    names = {n for n in dir(SqlStore) if not n.startswith("_")}
    assert not {n for n in names if any(w in n for w in ("update", "delete", "edit", "remove"))}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@given(
    payload=st.dictionaries(st.text(), json_values, max_size=4),
    seq=st.integers(1, 2**40),
    step=st.integers(0, 2**40),
    kind=st.sampled_from(list(EventKind)),
    agent=st.none() | st.text(),
)
def test_fast_hash_equals_contract_hash(
    payload: dict[str, object], seq: int, step: int, kind: EventKind, agent: str | None
) -> None:
    """The writer's hash shortcut must give exactly ``event_hash``'s bytes, and canonical
    JSON (a direct call of the C encoder) exactly what ``json.dumps`` gives."""
    assert canonical_json(payload) == _reference_json(payload)
    (p,) = prepare([NewEvent(step, kind, payload, agent)])
    assert p.payload_json == _reference_json(payload)
    assert json.dumps(p.payload, sort_keys=True) == json.dumps(
        json.loads(p.payload_json), sort_keys=True
    )
    prev = "ab" * 32
    expected = event_hash(prev, seq, step, kind, agent, json.loads(p.payload_json))
    assert chain_hash(prev, seq, p.tail) == expected
    assert chain_hash(prev, seq, p.tail) == event_hash(prev, seq, step, kind, agent, payload)


def _reference_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@given(value=json_values | st.dictionaries(st.integers(), json_values))
def test_canonical_json_is_json_dumps(value: object) -> None:
    """Any JSON value, top-level scalars and non-string keys (turned into strings) too."""
    assert canonical_json(value) == _reference_json(value)


def test_canonical_json_refuses_what_json_dumps_refuses() -> None:
    looped: dict[str, object] = {}
    looped["self"] = looped
    with pytest.raises(ValueError, match="Circular reference"):
        canonical_json(looped)
    with pytest.raises(TypeError, match="not JSON serializable"):
        canonical_json({"when": object()})
    assert canonical_json(looped | {"self": 1}) == '{"self":1}'  # no marker left behind
