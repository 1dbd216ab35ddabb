"""Race-free inserts written once for both dialects: the side-table repositories and the run
leases use them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Select, Table
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
    stmt = _insert_or_skip(conn, table)
    # RETURNING lists the rows actually inserted (a driver's rowcount is not reliable for
    # INSERT … ON CONFLICT: psycopg reports -1).
    stmt = stmt.returning(*table.primary_key.columns)
    if len(values) == 1:
        return len(conn.execute(stmt.values(**values[0])).all())
    return len(conn.execute(stmt, values).all())


def insert_new_from(
    conn: Connection, table: Table, columns: Sequence[str], rows: Select[Any]
) -> None:
    """``INSERT … SELECT`` the rows of ``rows`` into ``columns``, skipping any whose primary
    key is taken (one statement however many rows; race-free like :func:`insert_new`).
    ``rows`` must have a WHERE clause (SQLite cannot otherwise parse ``ON CONFLICT``)."""
    conn.execute(_insert_or_skip(conn, table).from_select(list(columns), rows))


def _insert_or_skip(conn: Connection, table: Table) -> Any:
    name = conn.dialect.name
    if name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    # the stores open SQLite or PostgreSQL only
    raise StoreError(f"the '{name}' database dialect is not supported")
