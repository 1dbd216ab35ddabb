"""What PostgreSQL has to prove beyond the contract suite: its migrations, the advisory lock,
id prefixes on an index; and, on both backends, real processes writing one database at once
(BranchBusy decided by the database, nothing lost or duplicated, also after a kill -9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, select, text

from aegntix.errors import StoreError
from aegntix.timeline import SqlStore, open_store, verify
from aegntix.timeline.migrate import HEAD_REVISION, current_revision
from aegntix.timeline.postgres import postgres_url
from aegntix.timeline.schema import branches, metadata

from ..postgres import SessionDatabase
from .helpers import assert_chain, msg, root

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_store(pg_url: str) -> Any:
    store = open_store(pg_url, snapshot_every=4)
    yield store
    store.close()


def test_migrated_schema_matches_metadata(pg_store: SqlStore, pg_url: str) -> None:
    engine = create_engine(postgres_url(pg_url))
    try:
        with engine.connect() as conn:
            assert current_revision(conn) == HEAD_REVISION
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            triggers = conn.execute(
                text(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'events'::regclass "
                    "AND NOT tgisinternal ORDER BY tgname"
                )
            ).scalars()
            assert list(triggers) == ["events_no_change", "events_no_truncate"]
    finally:
        engine.dispose()


def test_truncate_of_events_is_refused(pg_store: SqlStore) -> None:
    b = root(pg_store)
    pg_store.append(b, [msg(0)])
    with (
        pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"),
        pg_store.engine.begin() as conn,
    ):
        conn.execute(text("TRUNCATE events CASCADE"))
    assert len(list(pg_store.events(b))) == 1


def test_id_prefix_is_an_index_range_scan(pg_store: SqlStore) -> None:
    scenario = pg_store.create_scenario("s", {})
    ids = [pg_store.create_branch(scenario.id, seed=i).id for i in range(40)]
    target = next(i for i in ids if not i[:4].isdigit())  # a prefix with a letter in it
    assert pg_store.resolve_branch(target[:6]) == target
    upper = target[:4].upper()  # ids are lowercase hex: bytewise, "ABCD" starts none of them
    with pytest.raises(Exception, match="no branch"):
        pg_store.resolve_branch(upper)
    query = select(branches.c.id).where(
        branches.c.id.collate("C") >= target[:4], branches.c.id.collate("C") < target[:4] + "~"
    )
    with pg_store.engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))  # 40 rows: let the plan show the index
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        plan = "\n".join(conn.execute(text(f"EXPLAIN {compiled}")).scalars())
    assert "branches_pkey" in plan and "Index" in plan, plan


def test_bad_urls_are_one_line_errors(pg_database: SessionDatabase) -> None:
    with pytest.raises(StoreError, match="unsupported database"):
        open_store("mysql://localhost/x")
    with pytest.raises(StoreError, match="names no database"):
        open_store("postgresql://localhost")
    missing = pg_database.url.rsplit("/", 1)[0] + "/aegntix_no_such_database"
    with pytest.raises(StoreError) as error:
        open_store(missing.replace("://", "://nobody:secret@"))
    text_ = str(error.value)
    assert "\n" not in text_ and "secret" not in text_ and "aegntix_no_such_database" in text_


# -- several processes (on both backends) --------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """(a store, what another process opens to reach its database)."""
    if request.param == "sqlite":
        db = str(tmp_path / "shared.db")
    else:
        db = request.getfixturevalue("pg_url")
    store = open_store(db, snapshot_every=4)
    yield store, db
    store.close()


def _start(db: str, branch: str, name: str, mode: str, n: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.timeline.appender", db, branch, name, mode, str(n)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lines(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_two_processes_racing_on_one_branch_one_wins_each_seq(shared: tuple[SqlStore, str]) -> None:
    """Each process tries every expected seq once: exactly one wins each, the other gets
    BranchBusy, and the branch holds exactly the winners' events, in order."""
    store, db = shared
    b = root(store)
    n = 60
    procs = [_start(db, b, name, "race", n) for name in ("p1", "p2")]
    results = {name: _lines(p) for name, p in zip(("p1", "p2"), procs, strict=True)}
    winners: dict[int, str] = {}
    for name, lines in results.items():
        for line in lines:
            if "won" in line:
                assert line["won"] not in winners, f"seq {line['seq']} won twice"
                assert line["seq"] == line["won"] + 1
                winners[line["won"]] = name
    busy = sum("busy" in line for lines in results.values() for line in lines)
    assert sorted(winners) == list(range(n)) and busy == n
    stored = list(store.events(b))
    assert [(e.payload["k"], e.payload["by"]) for e in stored] == sorted(winners.items())
    assert_chain(stored)
    assert verify(store).ok


def test_two_processes_on_different_branches_both_proceed(shared: tuple[SqlStore, str]) -> None:
    store, db = shared
    b1, b2 = root(store), root(store)
    procs = [_start(db, b, name, "free", 150) for b, name in ((b1, "p1"), (b2, "p2"))]
    for p in procs:
        assert all("won" in line for line in _lines(p)[1:])
    for b, name in ((b1, "p1"), (b2, "p2")):
        stored = list(store.events(b))
        assert [e.payload["k"] for e in stored] == list(range(150))
        assert {e.payload["by"] for e in stored} == {name}
        assert_chain(stored)


def test_a_writer_killed_mid_run_loses_nothing_it_acknowledged(
    shared: tuple[SqlStore, str],
) -> None:
    """kill -9 of one of two processes appending to one branch: every append it saw
    acknowledged is stored, nothing is stored twice, and the survivor finishes."""
    store, db = shared
    b = root(store)
    victim = _start(db, b, "victim", "free", 100_000)
    survivor = _start(db, b, "survivor", "free", 300)
    assert victim.stdout is not None
    acked: list[int] = []
    try:
        for line in victim.stdout:
            record = json.loads(line)
            if "won" in record:
                acked.append(record["won"])
            if len(acked) >= 100:
                break
    finally:
        os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    victim.stdout.close()
    assert victim.stderr is not None
    victim.stderr.close()
    assert all("won" in line for line in _lines(survivor)[1:])
    stored = list(store.events(b))
    keys = [(e.payload["by"], e.payload["k"]) for e in stored]
    assert len(keys) == len(set(keys))  # nothing twice
    mine = [k for by, k in keys if by == "victim"]
    assert mine == sorted(mine) and set(acked) <= set(mine)  # nothing acknowledged lost
    assert [k for by, k in keys if by == "survivor"] == list(range(300))
    assert_chain(stored)
    assert verify(store).ok
