"""Schema migrations, run programmatically (no alembic.ini).

``upgrade(engine)`` is called on every store open; it costs one ``SELECT`` when the database
is already at the head revision, which is the common case.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

#: Head revision of ``migrations/versions``; a test checks it against Alembic's own view.
HEAD_REVISION = "0012"

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

#: PostgreSQL advisory lock key held while migrating (any constant; "aegntix" in ASCII):
#: processes starting at once on a new database queue on it, and each later one finds the
#: schema done. Per database: stores in other schemas of it wait their turn too.
MIGRATION_LOCK = 0x61_65_67_6E_74_69_78
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")  # released by the commit


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _at_head(connection: Connection) -> bool:
    # Alembic's own reader costs every process that opens a store a fifth of a second of
    # imports; the common case (already at head) is one plain query. Any failure (no table
    # yet, or a real fault) takes the locked path, which reads through Alembic and raises.
    try:
        found = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:
        return False
    return [row[0] for row in found] == [HEAD_REVISION]


def upgrade(engine: Engine) -> None:
    """Bring the database to the head revision (no-op, one query, when it already is)."""
    with engine.connect() as conn:
        if _at_head(conn):
            return
    with engine.connect() as conn:
        # Writer-flagged so SQLite takes the write lock up front (PostgreSQL: the advisory
        # lock): two processes opening a new database at once serialize here, and the second
        # sees the first one's schema.
        conn.info["aegntix_writer"] = True
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":  # DDL is transactional there
                    conn.execute(_LOCK, {"key": MIGRATION_LOCK})
                if current_revision(conn) != HEAD_REVISION:
                    from alembic import command

                    command.upgrade(alembic_config(conn), "head")
        finally:
            conn.info.pop("aegntix_writer", None)
