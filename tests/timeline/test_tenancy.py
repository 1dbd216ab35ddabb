"""``TenantStore``: one tenant's view of the timeline; foreign ids look missing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from aegntix.engine import Runner, start_scenario
from aegntix.errors import BranchNotFound, InvalidRequest, ScenarioNotFound
from aegntix.inject import inject
from aegntix.timeline import SqlStore, compare, open_sqlite_store, state_at
from aegntix.timeline.migrate import alembic_config
from aegntix.timeline.tenancy import TenantStore
from tests.support import example
from tests.timeline.helpers import SPEC, msg


def test_creates_stamp_the_tenant_and_fork_inherits(store: SqlStore) -> None:
    a = TenantStore(store, "a")
    sc = a.create_scenario("s", SPEC)
    root = a.create_branch(sc.id, seed=1)
    a.append(root.id, [msg(1)])
    child = a.fork(root.id, 1)
    assert sc.tenant_id == root.tenant_id == child.tenant_id == "a"
    assert store.get_branch(child.id).tenant_id == "a"
    with store.engine.connect() as conn:
        for table in ("scenarios", "branches", "events"):
            tenants = conn.execute(text(f"SELECT DISTINCT tenant_id FROM {table}")).scalars()
            assert list(tenants) == ["a"], table
    with pytest.raises(InvalidRequest):
        a.create_scenario("s", SPEC, tenant_id="b")


def test_foreign_ids_raise_like_missing_ones(store: SqlStore) -> None:
    a, b = TenantStore(store, "a"), TenantStore(store, "b")
    sc = a.create_scenario("s", SPEC)
    root = a.create_branch(sc.id, seed=1)
    a.append(root.id, [msg(1)])
    for call in (
        lambda: b.get_scenario(sc.id),
        lambda: b.create_branch(sc.id, seed=1),
        lambda: store.create_branch(sc.id, seed=1, tenant_id="b"),
    ):
        with pytest.raises(ScenarioNotFound):
            call()
    for call in (
        lambda: b.get_branch(root.id),
        lambda: b.fork(root.id, 0),
        lambda: b.lineage(root.id),
        lambda: list(b.events(root.id)),
        lambda: b.append(root.id, [msg(2)]),
        lambda: b.seq_at_step(root.id, 1),
        lambda: b.latest_snapshot(root.id, 10),
        lambda: b.set_status(root.id, "done"),  # type: ignore[arg-type]
        lambda: state_at(b, root.id),
        lambda: compare(b, root.id, root.id),
        lambda: inject(b, root.id, "x"),
        lambda: asyncio.run(b.append_async(root.id, [msg(2)])),
    ):
        with pytest.raises(BranchNotFound):
            call()
    assert b.list_scenarios() == [] and b.list_branches() == []
    assert b.list_branches(sc.id) == []
    assert [s.id for s in a.list_scenarios()] == [sc.id]
    assert store.get_branch(root.id).head_seq == 1  # nothing written by b


def test_soft_delete_hides_scenario_and_branches(store: SqlStore) -> None:
    a = TenantStore(store, "a")
    sc = a.create_scenario("s", SPEC)
    root = a.create_branch(sc.id, seed=1)
    a.delete_scenario(sc.id)
    with pytest.raises(ScenarioNotFound):
        a.get_scenario(sc.id)
    with pytest.raises(BranchNotFound):
        a.get_branch(root.id)
    assert a.list_scenarios() == [] and a.list_branches() == []
    assert TenantStore(store, "a").list_branches(sc.id) == []
    assert store.get_scenario(sc.id).id == sc.id  # the row stays


def test_engine_runs_on_a_tenant_store(store: SqlStore) -> None:
    a = TenantStore(store, "acme")
    root = start_scenario(a, example("negotiation"))
    summary = asyncio.run(Runner(a, root.id).run(steps=4))
    assert summary.completed_step == 4
    forked = inject(a, root.id, "Deadline Friday.", targets=["buyer"], at_step=2).branch
    asyncio.run(Runner(a, forked.id).run(steps=2))
    cmp = compare(a, root.id, forked.id)
    assert cmp.divergence_step == 3
    assert {b.id for b in a.list_branches()} == {root.id, forked.id}
    assert TenantStore(store, "other").list_branches() == []


def test_tenant_ids_are_validated(store: SqlStore) -> None:
    for bad in ("", "a b", "x" * 65, "é", "a/b"):
        with pytest.raises(InvalidRequest):
            TenantStore(store, bad)


def test_a_0001_database_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        conn.execute(
            text(
                "INSERT INTO scenarios (id, name, spec, spec_hash, created_at) "
                "VALUES ('old', 'n', '{}', 'h', '2025-01-01 00:00:00')"
            )
        )
    engine.dispose()
    with open_sqlite_store(path) as store:
        assert store.get_scenario("old").tenant_id == "default"
        assert [s.id for s in TenantStore(store, "default").list_scenarios()] == ["old"]
        assert TenantStore(store, "other").list_scenarios() == []
