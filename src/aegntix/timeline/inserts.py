"""Race-free inserts written once for both dialects: the side-table repositories, the run
leases and new timeline ids use them."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, Table
from sqlalchemy.dialects import postgresql, sqlite

from aegntix.errors import StoreError


@cache
def _insert_or_skip(dialect: str, table: Table) -> Any:
    # Built once per table: building the statement cost more than a fork's whole insert.
    if dialect == "sqlite":
        stmt: Any = sqlite.insert(table)
    elif dialect == "postgresql":
        stmt = postgresql.insert(table)
    else:  # the stores open SQLite or PostgreSQL only
        raise StoreError(f"the '{dialect}' database dialect is not supported")
    return stmt.on_conflict_do_nothing(index_elements=list(table.primary_key.columns))


@cache
def _statement(dialect: str, table: Table) -> Any:
    # RETURNING lists the rows actually inserted (a driver's rowcount is not reliable for
    # INSERT … ON CONFLICT: psycopg reports -1).
    return _insert_or_skip(dialect, table).returning(*table.primary_key.columns)


def insert_new(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]] | Mapping[str, Any]
) -> int:
    """Insert ``rows``, skipping any whose primary key is taken (``ON CONFLICT DO NOTHING``,
    atomic in the database, so concurrent writers of one key end with one row and no
    error). Returns how many rows were inserted."""
    stmt = _statement(conn.dialect.name, table)
    if isinstance(rows, Mapping):
        return len(conn.execute(stmt, dict(rows)).all())
    values = [dict(r) for r in rows]
    if not values:
        return 0
    return len(conn.execute(stmt, values).all())


def insert_new_from(
    conn: Connection, table: Table, columns: Sequence[str], rows: Select[Any]
) -> None:
    """``INSERT … SELECT`` the rows of ``rows`` into ``columns``, skipping any whose primary
    key is taken (one statement however many rows; race-free like :func:`insert_new`).
    ``rows`` must have a WHERE clause (SQLite cannot otherwise parse ``ON CONFLICT``)."""
    conn.execute(_insert_or_skip(conn.dialect.name, table).from_select(list(columns), rows))


def _random_ids() -> Iterator[str]:
    while True:
        yield secrets.token_hex(8)  # 64 bits: unguessable


def insert_with_new_id(
    conn: Connection,
    table: Table,
    row: Mapping[str, Any],
    candidates: Iterable[str] | None = None,
) -> str:
    """Insert ``row`` under a new id, the first of ``candidates`` (default: random ones) not
    taken, and return it. One statement per candidate: a taken id inserts nothing, with no
    check before it and no error to roll back."""
    for candidate in _random_ids() if candidates is None else candidates:
        if insert_new(conn, table, {**row, "id": candidate}):
            return candidate
    raise StoreError(f"no free id for a new row of '{table.name}'")
