"""Ids by unique prefix: ``3f9c`` for ``3f9c0a1be2d47765``, as the UI and CLI show them.

One resolver under both the CLI (unscoped :class:`SqlStore`) and the API (tenant-scoped
:class:`TenantStore`, whose query only sees its tenant's visible rows — so another tenant's
ids never resolve, and never make a prefix ambiguous either).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from aegntix.errors import AmbiguousId, NotFound

#: The shortest prefix resolved (an exact id of any length always is).
MIN_PREFIX = 4
#: Ids named in an ambiguity error.
_SHOWN = 5
# Above every character of an id (ids are ASCII), so ``[ref, ref + _TOP)`` is exactly the ids
# starting with ``ref`` in bytewise order (SQLite's BINARY collation; on PostgreSQL the id
# columns are ``COLLATE "C"``, see ``schema.id_string``): an index range scan.
_TOP = "\U0010ffff"


def resolve_id(
    conn: Connection,
    ids: Any,
    column: Any,
    ref: str,
    *,
    what: str,
    missing: type[NotFound],
) -> str:
    """The one id ``ids`` (a ``select`` of ``column``) holds equal to ``ref``, else starting
    with it. ``missing`` if none (or ``ref`` is too short to be a prefix); :class:`AmbiguousId`
    naming the matches if several."""
    if not (ref.isascii() and ref.isprintable()):
        # ids are printable ASCII; anything else names none (and PostgreSQL text cannot
        # even hold a NUL: the query would fail rather than find nothing)
        raise missing(f"no {what} with that id (ids are printable ASCII)")
    if conn.execute(ids.where(column == ref).limit(1)).first() is not None:
        return ref
    if len(ref) < MIN_PREFIX:
        raise missing(f"no {what} '{ref}' (an id prefix needs at least {MIN_PREFIX} characters)")
    # Bytewise whatever the column's collation (a locale one would order ``_TOP`` anywhere).
    key = column.collate("C") if conn.dialect.name == "postgresql" else column
    found = [
        str(r[0])
        for r in conn.execute(
            ids.where(key >= ref, key < ref + _TOP).order_by(key).limit(_SHOWN + 1)
        )
    ]
    if len(found) == 1:
        return found[0]
    if not found:
        raise missing(f"no {what} '{ref}'")
    more = "" if len(found) <= _SHOWN else ", …"
    raise AmbiguousId(
        f"'{ref}' starts more than one {what} id ({', '.join(found[:_SHOWN])}{more}): "
        "use more of the id"
    )
