"""Race-free inserts written once for both dialects: the side-table repositories and the run
leases use them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from aegntix.errors import StoreError


def insert_new(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]] | Mapping[str, Any]
) -> int:
    """Insert ``rows``, skipping any whose primary key is taken (``ON CONFLICT DO NOTHING``,
    atomic in the database, so concurrent writers of one key end with one row and no
    error). Returns how many rows were inserted."""
    values = [dict(rows)] if isinstance(rows, Mapping) else [dict(r) for r in rows]
    if not values:
        return 0
    name = conn.dialect.name
    if name == "sqlite":
        stmt: Any = sqlite.insert(table).on_conflict_do_nothing()
    elif name == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing()
    else:  # the stores open SQLite or PostgreSQL only
        raise StoreError(f"the '{name}' database dialect is not supported")
    # RETURNING lists the rows actually inserted (a driver's rowcount is not reliable for
    # INSERT … ON CONFLICT: psycopg reports -1).
    stmt = stmt.returning(*table.primary_key.columns)
    if len(values) == 1:
        return len(conn.execute(stmt.values(**values[0])).all())
    return len(conn.execute(stmt, values).all())
