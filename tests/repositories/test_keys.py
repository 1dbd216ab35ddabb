"""Contract of the API-key repository, and the first-start key minted once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import select

from aegntix.errors import InvalidRequest
from aegntix.security.key_repository import NewKey
from aegntix.security.keys import ensure_bootstrap_key, list_keys
from aegntix.security.roles import Role
from aegntix.tenant_data import TenantData
from aegntix.timeline import SqlStore, open_store
from aegntix.timeline.schema import tenants

from .racing import race


def _key(key_id: str = "00000000000000aa", role: Role = Role.EDITOR) -> NewKey:
    return NewKey(key_id, role, "ci", "f" * 64)


def test_a_key_is_stored_with_its_tenant(database: SqlStore):
    keys = TenantData(database, "acme").keys
    assert keys.add(_key()) is True
    found = keys.get("00000000000000aa")
    assert found is not None and found.tenant_id == "acme" and found.active
    active = keys.active("00000000000000aa")
    assert active is not None and active.role == Role.EDITOR
    with database.reading() as conn:
        assert conn.execute(select(tenants.c.id)).scalars().all() == ["acme"]


def test_a_taken_key_id_is_refused_without_error(database: SqlStore):
    assert TenantData(database, "acme").keys.add(_key())
    assert TenantData(database, "globex").keys.add(_key()) is False
    found = TenantData(database, None).keys.get("00000000000000aa")
    assert found is not None and found.tenant_id == "acme"


def test_a_revoked_key_is_not_active(database: SqlStore):
    keys = TenantData(database, "acme").keys
    keys.add(_key())
    keys.revoke("00000000000000aa")
    keys.revoke("00000000000000aa")  # idempotent
    assert keys.active("00000000000000aa") is None
    found = keys.get("00000000000000aa")
    assert found is not None and not found.active


def test_tenant_b_never_sees_or_revokes_tenant_a_keys(database: SqlStore):
    TenantData(database, "acme").keys.add(_key())
    globex = TenantData(database, "globex").keys
    assert globex.get("00000000000000aa") is None
    assert globex.active("00000000000000aa") is None
    assert globex.list_keys() == []
    globex.revoke("00000000000000aa")
    assert TenantData(database, "acme").keys.active("00000000000000aa") is not None


def test_an_operator_view_lists_every_tenant_but_cannot_mint(database: SqlStore):
    TenantData(database, "acme").keys.add(_key("00000000000000aa"))
    TenantData(database, "globex").keys.add(_key("00000000000000bb"))
    everyone = TenantData(database, None).keys
    assert [k.tenant_id for k in everyone.list_keys()] == ["acme", "globex"]
    with pytest.raises(InvalidRequest, match="tenant_id"):
        everyone.add(_key("00000000000000cc"))


def test_two_writers_minting_one_tenant_end_with_one_tenant_row(
    database: SqlStore, other_writer: SqlStore
):
    ids = [f"{i:016x}" for i in range(30)]
    race(
        lambda: [TenantData(database, "acme").keys.add(_key(k)) for k in ids[::2]],
        lambda: [TenantData(other_writer, "acme").keys.add(_key(k)) for k in ids[1::2]],
    )
    assert len(TenantData(database, "acme").keys.list_keys()) == len(ids)
    with database.reading() as conn:
        assert conn.execute(select(tenants.c.id)).scalars().all() == ["acme"]


def test_only_the_first_of_two_writers_mints_into_an_empty_database(
    database: SqlStore, other_writer: SqlStore
):
    made = race(
        lambda: TenantData(database, "default").keys.add(_key("a" * 16), only_if_none=True),
        lambda: TenantData(other_writer, "default").keys.add(_key("b" * 16), only_if_none=True),
    )
    assert sorted(made) == [False, True]
    assert len(list_keys(database)) == 1


def _bootstrap(path: str, key_file: str) -> None:
    store = open_store(path)
    try:
        ensure_bootstrap_key(store, Path(key_file))
    finally:
        store.close()


def test_two_servers_starting_at_once_mint_one_bootstrap_key(
    database_location: str, tmp_path: Path
):
    path = database_location
    open_store(path).close()  # migrated before both start
    ctx = multiprocessing.get_context("spawn")
    workers = [
        ctx.Process(target=_bootstrap, args=(path, str(tmp_path / f"key{i}"))) for i in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    assert len([p for p in tmp_path.glob("key?") if p.exists()]) == 1
    store = open_store(path)
    try:
        assert [k.role for k in list_keys(store)] == [Role.OWNER]
    finally:
        store.close()
