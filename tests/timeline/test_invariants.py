"""DESIGN §2 invariants at the store level: 1 (append-only), 2 (O(1) fork), 5 (isolation of
futures), 8 (integrity is checkable)."""

from __future__ import annotations

import copy

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from aegntix.model.events import EventKind, NewEvent
from aegntix.timeline import SqlStore, state_at, verify

from .conftest import StoreFactory
from .helpers import assert_chain, counts, fold_events, msg, root, steps, world

# -- invariant 1: append-only ---------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE events SET payload = '{}' WHERE seq = 1",
        "UPDATE events SET hash = 'x'",
        "DELETE FROM events WHERE seq = 2",
        "DELETE FROM events",
    ],
)
def test_database_refuses_event_changes(store: SqlStore, sql: str) -> None:
    b = root(store)
    steps(store, b, 0, 2)
    before = list(store.events(b))
    with (
        pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"),
        store.engine.begin() as conn,
    ):
        conn.execute(text(sql))
    assert list(store.events(b)) == before
    assert verify(store).ok


# -- invariant 2: fork writes one row ---------------------------------------------------------


@pytest.mark.parametrize("history_steps", [3, 3000])
def test_fork_writes_exactly_one_branch_row(make_store: StoreFactory, history_steps: int) -> None:
    store = make_store(snapshot_every=50)
    b = root(store)
    steps(store, b, 0, history_steps - 1)
    mid = history_steps // 2
    for at in (0, mid, history_steps - 1):
        before = counts(store)
        child = store.fork(b, at)
        after = counts(store)
        assert after == {**before, "branches": before["branches"] + 1}
        assert child.fork_seq == store.seq_at_step(b, at)
    # A fork of a fork, inside the grandparent's range, is one row too.
    child = store.fork(b, mid)
    before = counts(store)
    store.fork(child.id, 1)
    assert counts(store) == {**before, "branches": before["branches"] + 1}


# -- invariant 5: isolation of futures ---------------------------------------------------------


def test_child_appends_are_invisible_to_parent_and_sibling(store: SqlStore) -> None:
    b = root(store)
    steps(store, b, 0, 5)
    c1, c2 = store.fork(b, 3), store.fork(b, 3)
    seen = {x: (store.get_branch(x), list(store.events(x)), state_at(store, x)) for x in (b, c2.id)}
    store.append(c1.id, [world(4, x="c1 only", extra=[1, 2]), msg(4, "c1")])
    for x, (branch, evs, state) in seen.items():
        assert store.get_branch(x) == branch
        assert list(store.events(x)) == evs
        assert state_at(store, x) == state
    assert state_at(store, c1.id)["world"]["x"] == "c1 only"


def test_two_forks_run_interleaved_share_no_state(make_store: StoreFactory) -> None:
    """DESIGN §9 (Concordia): two forks of one point, appended alternately with nested
    mutable values on the same keys, each fold exactly their own history."""
    store = make_store(snapshot_every=2)
    b = root(store)
    store.append(b, [world(0, memory={"items": ["seed"]}, n=0)])
    state_at(store, b)  # warm the writer's cache of the parent before forking
    forks = [store.fork(b, 0).id, store.fork(b, 0).id]
    refs: dict[str, list[NewEvent]] = {
        f: [world(0, memory={"items": ["seed"]}, n=0)] for f in forks
    }
    for step in range(1, 12):
        for i, f in enumerate(forks):
            items = [*refs[f][-1].payload["set"]["world.memory"]["items"], f"{i}:{step}"]
            ev = world(step, memory={"items": items}, n=step * (i + 1))
            store.append(f, [ev])
            refs[f].append(ev)
    for f in forks:
        assert state_at(store, f) == fold_events(refs[f])
        for step in range(12):
            assert state_at(store, f, step) == fold_events(refs[f], step)
    assert state_at(store, b) == fold_events(refs[forks[0]][:1])


def test_returned_objects_are_never_shared(make_store: StoreFactory) -> None:
    store = make_store(snapshot_every=1)
    b = root(store)
    appended = store.append(b, [world(0, box={"k": [1]})])
    appended[0].payload["set"]["world.box"]["k"].append("mutated")  # caller's copy only
    s1 = state_at(store, b)
    s1["world"]["box"]["k"].append("mutated")
    s2 = state_at(store, b)
    assert s2["world"]["box"] == {"k": [1]}
    snap1, snap2 = store.latest_snapshot(b, 1), store.latest_snapshot(b, 1)
    assert snap1 is not None and snap2 is not None and snap1.state is not snap2.state
    snap1.state["world"]["box"]["k"].append("mutated")
    # The writer's folded state was not reached either: its next snapshot is still clean.
    store.append(b, [world(1, other=1)])
    snap3 = store.latest_snapshot(b, 2)
    assert snap3 is not None and snap3.state["world"] == {"box": {"k": [1]}, "other": 1}
    assert next(iter(store.events(b))).payload == {"set": {"world.box": {"k": [1]}}}


# -- invariant 8: tampering is found -----------------------------------------------------------


def _tamper(store: SqlStore, *sql: str) -> None:
    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE events DISABLE TRIGGER events_no_change"))
        else:
            conn.execute(text("DROP TRIGGER events_no_update"))
            conn.execute(text("DROP TRIGGER events_no_delete"))
        for statement in sql:
            conn.execute(text(statement))


def _history(store: SqlStore) -> tuple[str, str]:
    b = root(store)
    steps(store, b, 0, 9)  # 20 events
    child = store.fork(b, 4)  # fork_seq 10
    steps(store, child.id, 5, 7)  # own seqs 11..16
    assert verify(store).ok
    return b, child.id


@pytest.mark.parametrize(
    ("where", "statement", "seq", "reason"),
    [
        (
            "root",
            'UPDATE events SET payload = \'{"text":"forged"}\' WHERE {w} AND seq = 8',
            8,
            "hash",
        ),
        ("root", "UPDATE events SET payload = 'not json' WHERE {w} AND seq = 8", 8, "JSON"),
        ("root", "UPDATE events SET step = 3 WHERE {w} AND seq = 12", 12, "hash"),
        ("root", "DELETE FROM events WHERE {w} AND seq = 5", 5, "sequence"),
        ("root", "DELETE FROM events WHERE {w} AND seq = 20", 20, "head"),
        (
            "child",
            "UPDATE events SET hash = 'f00d' || substr(hash, 5) WHERE {w} AND seq = 13",
            13,
            "hash",
        ),
        ("child", "UPDATE events SET prev_hash = hash WHERE {w} AND seq = 11", 11, "prev_hash"),
        ("child", "UPDATE events SET kind = 'forged' WHERE {w} AND seq = 14", 14, "kind"),
    ],
)
def test_verify_finds_the_first_tampered_row(
    store: SqlStore, where: str, statement: str, seq: int, reason: str
) -> None:
    b, child = _history(store)
    target = b if where == "root" else child
    _tamper(store, statement.replace("{w}", f"branch_id = '{target}'"))
    report = verify(store)
    assert not report.ok
    first = next(p for p in report.problems if p.branch_id == target)
    assert (first.seq, reason.lower() in first.reason.lower()) == (seq, True), first


def test_verify_checks_head_cache_and_single_branch(store: SqlStore) -> None:
    b, child = _history(store)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE branches SET head_seq = 15 WHERE id = :id"), {"id": child})
    report = verify(store, child)
    assert report.branches_checked == 1 and not report.ok
    assert report.problems[0].branch_id == child and "head" in report.problems[0].reason
    assert verify(store, b).ok


def test_verify_counts(store: SqlStore) -> None:
    _history(store)
    report = verify(store)
    assert (report.ok, report.branches_checked, report.events_checked) == (True, 2, 26)


def test_inserted_row_past_head_is_found(store: SqlStore) -> None:
    b, _ = _history(store)
    last = list(store.events(b))[-1]
    forged = copy.copy(last)
    _tamper(
        store,
        "INSERT INTO events (branch_id, seq, step, kind, agent_id, payload, hash, prev_hash, "
        f"created_at) VALUES ('{b}', 21, 9, 'message', NULL, '{{}}', 'x', '{forged.hash}', "
        "'2025-01-01 00:00:00')",
    )
    problems = verify(store).problems
    assert [(p.branch_id, p.seq) for p in problems] == [(b, 21)]
    assert_chain(list(store.events(b)))  # reads stay bounded by the head
    assert EventKind.MESSAGE in {e.kind for e in store.events(b)}
