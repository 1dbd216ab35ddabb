"""The server backend: a :class:`SqlStore` on PostgreSQL (psycopg 3, a connection pool).

The same SQLAlchemy Core code as SQLite. What differs is the database's job, not ours: any
number of processes may open one database and write at once. The writer's conditional head
update (``writes.py``) makes the database decide ``expect_seq``; row locks on ``branches``
serialize appends to one branch and leave other branches in parallel.
"""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url

from aegntix.errors import StoreError
from aegntix.timeline.dberrors import map_db_errors
from aegntix.timeline.sqlstore import SqlStore

#: URL schemes read as PostgreSQL (all through the psycopg 3 driver).
SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
#: Connections kept open per process (readers; the writer holds one of them).
POOL_SIZE = 8
#: Extra connections opened under bursts, closed when returned.
MAX_OVERFLOW = 8


def is_postgres_url(db: str) -> bool:
    scheme, sep, _rest = db.partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


def postgres_url(db: str) -> URL:
    """``db`` as a SQLAlchemy URL for psycopg 3 (``postgres://`` and ``postgresql://`` too)."""
    try:
        url = make_url(db)
    except Exception:  # SQLAlchemy's ArgumentError: not a URL at all
        raise StoreError("cannot read the database URL (postgresql://user@host:port/db)") from None
    if url.get_backend_name() not in {"postgresql", "postgres"}:
        raise StoreError(f"unsupported database URL scheme '{url.drivername}'")
    if not url.database:
        raise StoreError("the PostgreSQL URL names no database (postgresql://host/DBNAME)")
    return url.set(drivername="postgresql+psycopg")


def shown_url(db: str | URL) -> str:
    """The URL without its password, for messages and logs."""
    url = db if isinstance(db, URL) else make_url(db)
    return url.render_as_string(hide_password=True)


def open_postgres_store(
    url: str,
    *,
    snapshot_every: int = 500,
    pool_size: int = POOL_SIZE,
    max_overflow: int = MAX_OVERFLOW,
) -> SqlStore:
    """Open (migrating if needed) the timeline in the PostgreSQL database ``url`` names. The
    database must exist; its tables are created by the migrations. A ``search_path`` set in
    the URL (``?options=-csearch_path%3Dname``) puts the timeline in that schema."""
    target = postgres_url(url)
    with map_db_errors(path=shown_url(target)):
        engine = create_engine(
            target,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=True,  # a restarted server leaves dead connections in the pool
        )
        try:
            return SqlStore(engine, snapshot_every=snapshot_every)
        except BaseException:
            engine.dispose()
            raise
