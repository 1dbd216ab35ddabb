"""Opening a timeline database (a SQLite file or a PostgreSQL URL) and finding a branch by
what a person types (id, id prefix, or label): shared by the CLI, the server and the Python
library."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from aegntix.errors import AegntixError, AmbiguousId, BranchNotFound, StoreError
from aegntix.model.events import Branch
from aegntix.timeline.bus import Bus, bus_from_env, open_bus
from aegntix.timeline.dberrors import map_db_errors
from aegntix.timeline.postgres import (
    is_postgres_url,
    open_postgres_store,
    postgres_url,
    shown_url,
)
from aegntix.timeline.schema import branches
from aegntix.timeline.sqlite import open_sqlite_store
from aegntix.timeline.sqlstore import SqlStore

_SQLITE_URL = "sqlite:///"


def open_store(db: str | Path, *, snapshot_every: int = 500) -> SqlStore:
    """The one way in: ``db`` is a SQLite file path (or ``sqlite:///path``) or a
    ``postgresql://user@host:port/dbname`` URL; the same :class:`SqlStore` either way."""
    text = str(db)
    if is_postgres_url(text):
        return open_postgres_store(text, snapshot_every=snapshot_every)
    if text.startswith(_SQLITE_URL):
        text = text[len(_SQLITE_URL) :]
    elif "://" in text:
        raise StoreError(
            f"unsupported database '{text.partition('://')[0]}://…' "
            "(a SQLite file path or a postgresql:// URL)"
        )
    return open_sqlite_store(text, snapshot_every=snapshot_every)


def describe(db: str | Path) -> str:
    """``db`` as shown to people: a URL loses its password."""
    text = str(db)
    return shown_url(text) if is_postgres_url(text) else text


@contextmanager
def opened(db: str, *, create: bool = False, bus: str | None = None) -> Iterator[SqlStore]:
    """Open the store; read-only commands refuse to create a database by accident. Its
    appends and status changes are announced on the bus ``bus`` names, else
    ``AEGNTIX_BUS``'s, else, on PostgreSQL, on its own LISTEN/NOTIFY (publish only: the
    servers on that database hear what a CLI run or a worker writes, as it commits)."""
    local = not is_postgres_url(db) and "://" not in db
    if local and not create and not Path(db).exists():
        raise StoreError(f"no database at '{db}' (run a scenario first, or pass --db)")
    if is_postgres_url(db) and not create and not _holds_timeline(db):
        raise StoreError(
            f"no AegntiX database at '{describe(db)}' (run a scenario there first, or pass --db)"
        )
    shared = open_bus(bus) if bus else bus_from_env()  # first: a bad bus creates nothing
    try:
        store = open_store(db)
    except BaseException as exc:
        if shared is not None:
            shared.close()
        if isinstance(exc, AegntixError) or not isinstance(exc, Exception):
            raise
        raise StoreError(f"cannot open database '{describe(db)}': {exc}") from None
    if shared is None and is_postgres_url(db):
        try:
            shared = _notify_only(db)
        except BaseException:
            store.close()
            raise
    if shared is not None:
        store.publish_to(shared)
    try:
        yield store
    finally:
        store.close()  # flushes the last appends to the bus first
        if shared is not None:
            shared.close()


def _notify_only(db: str) -> Bus:
    from aegntix.timeline.pgbus import PgBus  # psycopg: only when the database is PostgreSQL

    return PgBus(db, listen=False)


def _holds_timeline(url: str) -> bool:
    """Whether the PostgreSQL database ``url`` names has the timeline's tables (in its
    search path), asked on one short-lived connection, so a read-only command creates none."""
    engine = create_engine(postgres_url(url), poolclass=NullPool)
    try:
        with map_db_errors(path=shown_url(url)), engine.connect() as conn:
            return inspect(conn).has_table(branches.name)
    finally:
        engine.dispose()


def resolve_branch(store: SqlStore, ref: str) -> Branch:
    """A branch by id, unique id prefix (4+ characters; the store resolves it, as for the
    API), or label."""
    try:
        return store.get_branch(store.resolve_branch(ref))
    except BranchNotFound:
        pass
    matches = [b for b in store.list_branches() if b.label == ref]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise BranchNotFound(f"no branch '{ref}' (see `aegntix branches`)")
    ids = ", ".join(b.id for b in matches[:5])
    raise AmbiguousId(f"'{ref}' labels {len(matches)} branches ({ids}…); use the id")
