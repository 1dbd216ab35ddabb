"""Alembic migrations: the head constant, schema == metadata, triggers, cheap re-open."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from aegntix.model.events import BranchStatus, Failure
from aegntix.timeline import open_sqlite_store, open_store
from aegntix.timeline.migrate import HEAD_REVISION, alembic_config, current_revision
from aegntix.timeline.schema import metadata


def test_head_constant_matches_scripts() -> None:
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION


def test_migrated_schema_matches_metadata(tmp_path: Path) -> None:
    open_sqlite_store(tmp_path / "t.db").close()
    engine = create_engine(f"sqlite:///{tmp_path / 't.db'}")
    with engine.connect() as conn:
        assert current_revision(conn) == HEAD_REVISION
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        triggers = conn.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        ).scalars()
        assert list(triggers) == ["events_no_delete", "events_no_update"]
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()
    assert diff == []


def test_reopen_does_not_migrate_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_sqlite_store(tmp_path / "t.db").close()
    calls: list[object] = []
    monkeypatch.setattr(command, "upgrade", lambda *a, **k: calls.append(a))
    open_sqlite_store(tmp_path / "t.db").close()
    assert calls == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_first_opens_migrate_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """SQLite's write lock, PostgreSQL's advisory lock: one of them migrates."""
    db = str(tmp_path / "t.db") if backend == "sqlite" else request.getfixturevalue("pg_url")
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: open_store(db), range(4)))
    try:
        scenario = stores[0].create_scenario("s", {})
        assert [s.get_scenario(scenario.id).id for s in stores] == [scenario.id] * 4
    finally:
        for s in stores:
            s.close()


def test_pragmas_on_every_connection(tmp_path: Path) -> None:
    store = open_sqlite_store(tmp_path / "t.db")
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert (conn.execute(text("PRAGMA busy_timeout")).scalar() or 0) > 0
    finally:
        store.close()


def test_0005_adds_the_failure_reason_to_existing_branches(tmp_path: Path) -> None:
    """A database made before 0005 keeps its branches (no reason yet) and takes new ones;
    the downgrade removes the column again."""
    db = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0004")
        conn.execute(
            text(
                "INSERT INTO scenarios (id, tenant_id, name, spec, spec_hash, created_at) "
                "VALUES ('s1', 'default', 'old', '{}', 'h', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO branches (id, tenant_id, scenario_id, fork_seq, fork_step, seed, "
                "label, status, head_seq, head_step, head_hash, created_at, updated_at) VALUES "
                "('b1', 'default', 's1', 0, 0, 1, 'main', 'failed', 0, 0, :h, "
                "'2026-01-01', '2026-01-01')"
            ),
            {"h": "0" * 64},
        )
    engine.dispose()
    store = open_sqlite_store(db)
    try:
        assert store.get_branch("b1").failure is None  # failed before reasons were kept
        reason = Failure("StoreError", "disk full", 3)
        store.set_status("b1", BranchStatus.FAILED, failure=reason)
        assert store.get_branch("b1").failure == reason
    finally:
        store.close()
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0004")
        columns = [r[1] for r in conn.execute(text("PRAGMA table_info(branches)"))]
    engine.dispose()
    assert "failure" not in columns and "status" in columns
