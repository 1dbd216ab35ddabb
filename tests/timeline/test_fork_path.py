"""The fork's short path: a fork alone in its batch is its own transaction (no SAVEPOINT),
its new id is one ``INSERT … ON CONFLICT … RETURNING``, its starting point one query; a
cached head is trusted only below it. Statements are counted on the writer's connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, text

from aegntix.errors import Conflict, ForkOutOfRange, StoreError
from aegntix.timeline import SqlStore, verify
from aegntix.timeline.inserts import insert_with_new_id
from aegntix.timeline.schema import scenarios
from aegntix.timeline.writer import WRITER_FLAG

from .conftest import StoreFactory
from .helpers import assert_chain, counts, msg, root, steps


@contextmanager
def writer_statements(store: SqlStore) -> Iterator[list[str]]:
    """The statements the writer's connection runs meanwhile (transaction control left out:
    psycopg sends BEGIN and COMMIT itself, SQLite's BEGIN comes from our hook)."""
    seen: list[str] = []

    def record(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.split(None, 1)
        if conn.info.get(WRITER_FLAG) and words and words[0].upper() not in {"BEGIN", "COMMIT"}:
            seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


def test_a_fork_is_two_statements_and_no_savepoint(store: SqlStore) -> None:
    b = root(store)
    steps(store, b, 0, 9)
    store.fork(b, 3)  # the parent is in the writer's cache from here on
    head = store.get_branch(b)
    for at in (4, head.head_step, 0):
        with writer_statements(store) as seen:
            child = store.fork(b, at)
        assert len(seen) == 2, seen  # the point (or the head's check), the insert
        assert not any("SAVEPOINT" in s.upper() for s in seen)
        assert seen[-1].upper().startswith("INSERT") and "RETURNING" in seen[-1].upper()
        parent = list(store.events(b, to_step=at))
        assert child.fork_seq == len(parent) and child.head_hash == parent[-1].hash
    # A fork's first append chains from the point it read.
    grand = store.fork(child.id, 0)
    store.append(grand.id, [msg(1, "after")])
    assert_chain(list(store.events(grand.id)))
    assert verify(store).ok


def test_a_write_alone_in_its_batch_that_fails_after_writing_leaves_nothing(
    store: SqlStore,
) -> None:
    """With no other request to share the transaction, a failing write rolls it back: what
    it wrote is gone (also after a driver error, which aborts a PostgreSQL transaction), and
    the connection and caches carry on."""
    b = root(store)
    steps(store, b, 0, 2)
    before = counts(store)
    ops = store._ops

    def half_written(c: Connection) -> None:
        ops.create_scenario(c, "half", "{}", "0" * 64, "default")
        ops.fork(c, b, 1, None, None)
        raise Conflict("the second half conflicts")

    def bad_sql(c: Connection) -> None:
        ops.fork(c, b, 1, None, None)
        c.execute(text("INSERT INTO no_such_table VALUES (1)"))

    with pytest.raises(Conflict):
        store.write(half_written)
    with pytest.raises(StoreError, match="no_such_table"):
        store.write(bad_sql)
    with pytest.raises(ForkOutOfRange):
        store.fork(b, 99)
    assert counts(store) == before
    stats = store.stats()
    assert stats["failed_requests"] == 3 and stats["failed_commits"] == 0
    child = store.fork(b, 1)  # the same connection, caches continuing from what committed
    store.append(child.id, [msg(2, "child")])
    store.append(b, [msg(3, "parent")])
    assert [e.seq for e in store.events(child.id)][-1] == child.fork_seq + 1
    assert verify(store).ok


def test_new_ids_skip_a_taken_one(store: SqlStore) -> None:
    """``insert_with_new_id``: a drawn id that is taken inserts nothing; another is drawn."""
    b = root(store)
    taken = store.get_branch(b).scenario_id
    draws = iter([taken, taken, "fresh0123456789a"])

    def insert(c: Connection) -> str:
        row = {"tenant_id": "default", "name": "n", "spec": "{}", "spec_hash": "0" * 64}
        return insert_with_new_id(c, scenarios, {**row, "created_at": store._ops._now()}, draws)

    assert store.write(insert) == "fresh0123456789a"
    assert store.get_scenario(taken).name == "test"  # untouched


def test_a_fork_at_or_past_a_stale_cached_head_reads_the_database(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    """Another process appended since this one cached the parent: a fork at the cached
    head step sees the events it added at that step, one past it is in range; a fork before
    it needs no fresh read (those events are fixed)."""
    a = make_store(where=tmp_path / "shared")
    other = make_store(where=tmp_path / "shared")
    b = root(a)
    a.append(b, [msg(0, "a0"), msg(1, "a1")])
    a.fork(b, 0)  # a caches the parent at head step 1
    other.append(b, [msg(1, "o1"), msg(2, "o2")])
    at_head = a.fork(b, 1)
    assert (at_head.fork_seq, at_head.head_step) == (3, 1)
    past = a.fork(b, 2)
    assert (past.fork_seq, past.head_hash) == (4, a.get_branch(b).head_hash)
    before = a.fork(b, 0)
    assert before.fork_seq == 1
    with pytest.raises(ForkOutOfRange):
        a.fork(b, 3)
    for child in (at_head, past, before):
        a.append(child.id, [msg(5, "next")])
        assert_chain(list(a.events(child.id)))
