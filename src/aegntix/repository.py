"""The data-access layer for the tables beside the timeline (reply cache, usage ledger,
profiles, API keys, rollout sets).

Each of those has a repository ``Protocol`` in the package that uses it and one SQL
implementation (SQLAlchemy Core) built on :class:`TenantRows`: a repository is obtained for
one tenant and every statement it runs is filtered and stamped with that tenant here, in
one place. Only these SQL implementations touch a connection.

Writes that may race (two processes filling one cache key, minting one tenant) are single
statements with ``ON CONFLICT`` (``timeline/inserts.py: insert_new``), written once for
SQLite and PostgreSQL, so no check-then-insert depends on SQLite's write lock.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Connection, Engine, Table, true

from aegntix.errors import InvalidRequest
from aegntix.timeline.sqlstore import SqlStore
from aegntix.timeline.store import Store
from aegntix.timeline.tenancy import TenantStore

T = TypeVar("T")


class Database(Protocol):
    """What a SQL repository needs from a store: pooled reads and the store's writer (each
    ``write`` is one atomic request). ``SqlStore`` is one."""

    @property
    def engine(self) -> Engine: ...

    def reading(self) -> AbstractContextManager[Connection]: ...

    def write(self, fn: Callable[[Connection], T]) -> T: ...


def database_of(store: Store | None) -> SqlStore | None:
    """The SQL database under ``store`` (a ``TenantStore`` wraps one), or None."""
    if isinstance(store, TenantStore):
        return store.backend
    if isinstance(store, SqlStore):
        return store
    return None


def tenant_of(store: Store, default: str) -> str:
    """The tenant a store is scoped to (a ``TenantStore``), else ``default``."""
    return store.tenant_id if isinstance(store, TenantStore) else default


def require_database(store: Store, what: str) -> SqlStore:
    db = database_of(store)
    if db is None:
        raise InvalidRequest(f"{what} need a SQL timeline store")
    return db


def aware(value: datetime) -> datetime:
    """A stored time as UTC (SQLite returns them without a zone)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class TenantRows:
    """Base of the SQL repositories: one database, one tenant (``None``: an operator's view
    of every tenant, for the few repositories that allow it)."""

    def __init__(self, db: Database, tenant_id: str | None) -> None:
        self.db = db
        self.tenant_id = tenant_id

    @property
    def tenant(self) -> str:
        """The tenant writes go to; an all-tenants view cannot write."""
        if self.tenant_id is None:
            raise InvalidRequest("tenant_id: required to write")
        return self.tenant_id

    def mine(self, table: Table) -> ColumnElement[bool]:
        """The condition that limits ``table`` to this tenant's rows."""
        if self.tenant_id is None:
            return true()
        return table.c.tenant_id == self.tenant_id

    def stamped(self, **values: Any) -> dict[str, Any]:
        """A row of this tenant."""
        return {"tenant_id": self.tenant, **values}

    def reading(self) -> AbstractContextManager[Connection]:
        return self.db.reading()

    def write(self, fn: Callable[[Connection], T]) -> T:
        return self.db.write(fn)
