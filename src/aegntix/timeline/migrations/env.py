"""Alembic environment for the timeline schema. Configured programmatically by
``aegntix.timeline.migrate`` (no alembic.ini): the caller passes an open connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from aegntix.timeline.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run timeline migrations through aegntix.timeline.migrate.upgrade()")
_run(connection)
