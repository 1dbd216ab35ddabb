"""The ``api_keys`` table, SQL side: :class:`SqlKeys`, a tenant-scoped
:class:`~aegntix.security.key_repository.KeyRepository`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from aegntix.repository import TenantRows, aware
from aegntix.security.key_repository import ActiveKey, ApiKey, NewKey
from aegntix.security.roles import Role
from aegntix.timeline.inserts import insert_new
from aegntix.timeline.schema import api_keys, tenants

_C = api_keys.c
_LISTED = (_C.id, _C.tenant_id, _C.role, _C.name, _C.created_at, _C.revoked_at)


def _listed(row: Any) -> ApiKey:
    revoked = None if row.revoked_at is None else aware(row.revoked_at)
    return ApiKey(row.id, row.tenant_id, Role(row.role), row.name, aware(row.created_at), revoked)


class SqlKeys(TenantRows):
    def add(self, key: NewKey, *, only_if_none: bool = False) -> bool:
        now = datetime.now(UTC)
        row = self.stamped(
            id=key.id,
            role=key.role.value,
            name=key.name,
            secret_hash=key.secret_hash,
            created_at=now,
            revoked_at=None,
        )
        tenant = self.tenant

        def op(conn: Connection) -> bool:
            insert_new(conn, tenants, {"id": tenant, "name": tenant, "created_at": now})
            if only_if_none:
                # Two first starts at once: the tenant row's lock orders them (PostgreSQL;
                # SQLite's writer already does), so the second sees the first one's key.
                conn.execute(select(tenants.c.id).where(tenants.c.id == tenant).with_for_update())
                if conn.execute(select(func.count()).select_from(api_keys)).scalar_one():
                    return False
            return insert_new(conn, api_keys, row) == 1

        return self.write(op)

    def active(self, key_id: str) -> ActiveKey | None:
        query = select(_C.tenant_id, _C.role, _C.secret_hash).where(
            self.mine(api_keys), _C.id == key_id, _C.revoked_at.is_(None)
        )
        with self.reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else ActiveKey(row.tenant_id, Role(row.role), row.secret_hash)

    def get(self, key_id: str) -> ApiKey | None:
        query = select(*_LISTED).where(self.mine(api_keys), _C.id == key_id)
        with self.reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else _listed(row)

    def list_keys(self) -> list[ApiKey]:
        query = select(*_LISTED).where(self.mine(api_keys)).order_by(_C.created_at, _C.id)
        with self.reading() as conn:
            return [_listed(r) for r in conn.execute(query)]

    def revoke(self, key_id: str) -> None:
        stmt = (
            update(api_keys)
            .where(self.mine(api_keys), _C.id == key_id, _C.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        self.write(lambda conn: conn.execute(stmt))
