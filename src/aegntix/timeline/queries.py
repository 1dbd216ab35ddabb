"""Read primitives over one SQLAlchemy connection, shared by the store's readers (pooled
connections, committed data) and its writer (its own connection, which also sees the batch it
has not committed yet). Portable Core only.

A branch's logical sequence is a chain of *segments*: walking the lineage from the branch up,
each member contributes its own rows ``(fork_seq, limit]`` where ``limit`` starts at the head
and shrinks to each member's fork point on the way up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, case, literal, null, select
from sqlalchemy.sql.elements import ColumnElement

from aegntix.errors import BranchNotFound
from aegntix.model.events import GENESIS_HASH, Branch, BranchStatus, Event, EventKind, Failure
from aegntix.timeline.schema import branches, events, run_leases, snapshots
from aegntix.timeline.store import Snapshot

#: Rows per page when streaming events: bounded memory, short read transactions.
PAGE = 1000

_KINDS: dict[str, EventKind] = {k.value: k for k in EventKind}

# Hot statements are built once with bind parameters: building a statement (and its cache
# key) per call cost more than running it.
_BRANCH = select(branches).where(branches.c.id == bindparam("bid"))
_POINT_AT_STEP = (
    select(events.c.seq, events.c.step, events.c.hash)
    .where(
        events.c.branch_id == bindparam("bid"),
        events.c.step <= bindparam("step"),
        events.c.seq <= bindparam("hi"),
    )
    .order_by(events.c.step.desc(), events.c.seq.desc())
    .limit(1)
)
_SNAPSHOT = (
    select(snapshots.c.seq, snapshots.c.step, snapshots.c.state)
    .where(
        snapshots.c.branch_id == bindparam("bid"),
        snapshots.c.seq > bindparam("lo"),
        snapshots.c.seq <= bindparam("hi"),
    )
    .order_by(snapshots.c.seq.desc())
    .limit(1)
)
_EVENT_COLUMNS = (
    events.c.seq,
    events.c.step,
    events.c.kind,
    events.c.agent_id,
    events.c.payload,
    events.c.hash,
    events.c.prev_hash,
    events.c.created_at,
)
_PAGE = (
    select(*_EVENT_COLUMNS)
    .where(
        events.c.branch_id == bindparam("bid"),
        events.c.seq >= bindparam("lo"),
        events.c.seq <= bindparam("hi"),
    )
    .order_by(events.c.seq)
    .limit(bindparam("n"))
)


def _lineage_statement() -> Any:
    up = (
        select(branches.c.id, branches.c.parent_id, literal(0).label("depth"))
        .where(branches.c.id == bindparam("bid"))
        .cte("up", recursive=True)
    )
    up = up.union_all(
        select(branches.c.id, branches.c.parent_id, (up.c.depth + 1).label("depth")).where(
            branches.c.id == up.c.parent_id
        )
    )
    return select(branches).join(up, branches.c.id == up.c.id).order_by(up.c.depth)


_LINEAGE = _lineage_statement()


@dataclass(frozen=True, slots=True)
class Link:
    """The immutable part of a lineage member: enough to map logical seqs to rows."""

    id: str
    fork_seq: int
    fork_step: int


Lineage = tuple[Link, ...]  # self first, root last


def aware(value: datetime | None) -> datetime | None:
    # SQLite keeps no zone; everything is written in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def row_to_branch(row: Row[Any]) -> Branch:
    m = row._mapping
    return Branch(
        id=m["id"],
        scenario_id=m["scenario_id"],
        parent_id=m["parent_id"],
        fork_seq=m["fork_seq"],
        fork_step=m["fork_step"],
        seed=m["seed"],
        label=m["label"],
        status=BranchStatus(m["status"]),
        head_seq=m["head_seq"],
        head_step=m["head_step"],
        head_hash=m["head_hash"],
        created_at=aware(m["created_at"]),
        tenant_id=m["tenant_id"],
        failure=_failure(m.get("failure")),
    )


# -- status as it stands: the stored status read together with the run lease --------------
def live_status(now: float) -> ColumnElement[str]:
    """The branch's status given its lease (``run_leases`` outer-joined): ``done`` once
    finished (a lease its owner died before releasing changes nothing); ``running`` while
    a live lease holds it; ``paused`` if its row says running but nobody holds it (the
    owner died mid-run: it can be resumed); else the stored status."""
    live = run_leases.c.expires_at > now
    running = BranchStatus.RUNNING.value
    return case(
        (branches.c.status == BranchStatus.DONE.value, branches.c.status),
        (live, running),
        (branches.c.status == running, BranchStatus.PAUSED.value),
        else_=branches.c.status,
    )


def live_branch_columns(now: float) -> list[ColumnElement[Any]]:
    """Every branch column, with ``status`` (and ``failure``) as :func:`live_status` says."""
    live = run_leases.c.expires_at > now
    swapped = {
        "status": live_status(now).label("status"),
        "failure": case((live, null()), else_=branches.c.failure).label("failure"),
    }
    return [swapped.get(c.name, c) for c in branches.c]


def with_leases(query: Select[Any]) -> Select[Any]:
    """``query`` (over ``branches``) with each branch's lease outer-joined (one statement,
    so status and lease come from one snapshot, and no query per branch)."""
    return query.outerjoin(run_leases, run_leases.c.branch_id == branches.c.id)


def live_branches(now: float) -> Select[Any]:
    """Branches as they stand (lease-aware status), in creation order; add ``where``s."""
    query = select(*live_branch_columns(now)).select_from(branches)
    return with_leases(query).order_by(branches.c.created_at, branches.c.id)


def _failure(text: str | None) -> Failure | None:
    if not text:
        return None
    try:
        return Failure.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError):
        return None  # unreadable: the status still says failed


def get_branch(conn: Connection, branch_id: str) -> Branch:
    row = conn.execute(_BRANCH, {"bid": branch_id}).first()
    if row is None:
        raise BranchNotFound(f"no branch '{branch_id}'")
    return row_to_branch(row)


def lineage_rows(conn: Connection, branch_id: str) -> list[Branch]:
    """The branch and its ancestors, self first, in one recursive query."""
    rows = conn.execute(_LINEAGE, {"bid": branch_id}).all()
    if not rows:
        raise BranchNotFound(f"no branch '{branch_id}'")
    return [row_to_branch(r) for r in rows]


def to_lineage(members: Sequence[Branch]) -> Lineage:
    return tuple(Link(b.id, b.fork_seq, b.fork_step) for b in members)


def segments(lineage: Lineage, lo: int, hi: int) -> list[tuple[str, int, int]]:
    """``(member id, first seq, last seq)`` covering logical seqs ``[lo, hi]``, root first."""
    out: list[tuple[str, int, int]] = []
    limit = hi
    for link in lineage:
        first = max(link.fork_seq + 1, lo)
        if first <= limit:
            out.append((link.id, first, limit))
        limit = min(limit, link.fork_seq)
        if limit < lo:
            break
    out.reverse()
    return out


Point = tuple[int, int, str]  # (seq, step, hash) of one logical event; (0, 0, genesis) before any


def seq_at_step(
    conn: Connection, lineage: Lineage, head_seq: int, head_step: int, step: int
) -> int:
    """Last logical seq whose step is ``<= step`` (0 if none). Steps never decrease along a
    logical sequence, so this is one reverse index probe per lineage member at most."""
    if step >= head_step:
        return head_seq
    if step < 0:
        return 0
    return _below(conn, lineage, head_seq, step, exact=False)[0]


def point_at_step(conn: Connection, lineage: Lineage, head: Point, step: int) -> Point:
    """Like :func:`seq_at_step`, with that event's step and hash (a fork's starting point),
    usually in one query: the probe that finds the seq reads them too."""
    if step >= head[1]:
        return head
    if step < 0:
        return 0, 0, GENESIS_HASH
    return _below(conn, lineage, head[0], step, exact=True)


def _below(conn: Connection, lineage: Lineage, limit: int, bound: int, *, exact: bool) -> Point:
    """The walk behind both: own rows of each member, newest member first. Not ``exact``:
    the point's step and hash may be left unread (-1, "")."""
    for link in lineage:
        if limit > link.fork_seq:
            row = conn.execute(_POINT_AT_STEP, {"bid": link.id, "step": bound, "hi": limit}).first()
            if row is not None and row.seq > link.fork_seq:
                return int(row.seq), int(row.step), str(row.hash)
        # Bounding the step by the fork step keeps the probe off the parent's later rows.
        limit, bound = min(limit, link.fork_seq), min(bound, link.fork_step)
        if limit <= 0:
            break
        if not exact and bound == link.fork_step:
            # Every inherited event up to the fork has a step <= fork_step <= the asked step:
            # the point is the fork point itself (its step and hash would take a query).
            return limit, -1, ""
    return 0, 0, GENESIS_HASH


def latest_snapshot(conn: Connection, lineage: Lineage, max_seq: int) -> Snapshot | None:
    limit = max_seq
    for link in lineage:
        if limit > link.fork_seq:
            row = conn.execute(
                _SNAPSHOT, {"bid": link.id, "lo": link.fork_seq, "hi": limit}
            ).first()
            if row is not None:
                # Parsed per call: every caller gets its own state (nothing shared).
                return Snapshot(link.id, int(row.seq), int(row.step), json.loads(row.state))
        limit = min(limit, link.fork_seq)
        if limit <= 0:
            break
    return None


def event_page(
    conn: Connection, branch_id: str, lo: int, hi: int, limit: int = PAGE
) -> list[Event]:
    """Own rows of ``branch_id`` with ``lo <= seq <= hi``, at most ``limit``, in seq order."""
    rows = conn.execute(_PAGE, {"bid": branch_id, "lo": lo, "hi": hi, "n": limit}).all()
    kinds = _KINDS
    return [
        Event(
            branch_id,
            seq,
            step,
            kinds[kind],
            agent_id,
            json.loads(payload),
            hash_,
            prev,
            aware(created),
        )
        for seq, step, kind, agent_id, payload, hash_, prev, created in rows
    ]


def iter_events(conn: Connection, lineage: Lineage, lo: int, hi: int) -> Iterator[Event]:
    """Logical events ``[lo, hi]`` through one connection (the writer's fold uses this)."""
    for member, first, last in segments(lineage, lo, hi):
        nxt = first
        while nxt <= last:
            page = event_page(conn, member, nxt, last)
            if not page:
                break
            yield from page
            nxt = page[-1].seq + 1
