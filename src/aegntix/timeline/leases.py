"""Run ownership: a lease per running branch, in the database (table ``run_leases``).

A process takes a branch to run with one conditional write (it succeeds when nobody holds
the branch, the holder's lease expired, or the holder is itself); while it runs it renews
the lease; when it stops it releases it. Two processes can never run one branch: the second
gets ``BranchBusy``. A process that dies stops renewing, its lease expires, and the branch
reads "not running" and can be taken over.

Times are seconds since the epoch from the caller's clock (processes sharing a database are
assumed to have roughly synchronised clocks; the TTL dwarfs any skew).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import structlog
from sqlalchemy import Connection, Table, delete, literal, or_, select, update

from aegntix.errors import BranchBusy, BranchNotFound
from aegntix.model.events import Branch, BranchStatus
from aegntix.timeline import queries as q
from aegntix.timeline.inserts import insert_new, insert_new_from
from aegntix.timeline.schema import branches, run_leases, scenarios
from aegntix.timeline.sqlstore import SqlStore

log = structlog.get_logger(__name__)

#: Seconds a lease lasts without renewal (``AEGNTIX_LEASE_SECONDS`` overrides it).
DEFAULT_TTL = 15.0
LEASE_ENV = "AEGNTIX_LEASE_SECONDS"


def lease_ttl() -> float:
    """``AEGNTIX_LEASE_SECONDS`` if it is a positive number, else :data:`DEFAULT_TTL`."""
    try:
        value = float(os.environ.get(LEASE_ENV, ""))
    except ValueError:
        return DEFAULT_TTL
    return value if 0 < value < 86_400 else DEFAULT_TTL


def new_owner_id() -> str:
    """Who this process is, readably: ``host:pid:random`` (at most 64 characters)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(6)}"


@dataclass(frozen=True, slots=True)
class Lease:
    branch_id: str
    owner: str
    expires_at: float

    def live(self, now: float) -> bool:
        return self.expires_at > now


def take(conn: Connection, branch_id: str, owner: str, now: float, ttl: float) -> None:
    """Hold ``branch_id`` until ``now + ttl``, or ``BranchBusy`` if another owner's lease is
    live; ``BranchNotFound`` if there is no such branch. Runs in the caller's write
    transaction."""
    tenant_id = conn.execute(
        select(branches.c.tenant_id).where(branches.c.id == branch_id)
    ).scalar()
    if tenant_id is None:
        raise BranchNotFound(f"no branch '{branch_id}'")
    row = {"branch_id": branch_id, "tenant_id": tenant_id}
    if not claim(conn, run_leases, row, owner, now, now + ttl):
        raise BranchBusy(f"branch '{branch_id}' is already running (in another process)")


def claim(
    conn: Connection, table: Table, row: dict[str, Any], owner: str, now: float, until: float
) -> bool:
    """Make ``owner`` hold the lease row of ``table`` keyed by ``row`` (its primary key and
    other columns, without owner and expiry) until ``until``, if nobody holds it, the
    holder's lease expired, or the holder is ``owner``; whether it holds it now."""
    key = [table.c[c.name] == row[c.name] for c in table.primary_key.columns]
    taken = conn.execute(
        update(table)
        .where(*key, or_(table.c.owner == owner, table.c.expires_at <= now))
        .values(owner=owner, expires_at=until)
    ).rowcount
    return bool(taken) or bool(
        insert_new(conn, table, {**row, "owner": owner, "expires_at": until})
    )


def renew(
    conn: Connection, branch_ids: Collection[str], owner: str, now: float, ttl: float
) -> list[str]:
    """Extend ``owner``'s leases on ``branch_ids``; returns the ones it no longer holds."""
    if not branch_ids:
        return []
    ids = list(branch_ids)
    mine = (run_leases.c.owner == owner, run_leases.c.branch_id.in_(ids))
    conn.execute(update(run_leases).where(*mine).values(expires_at=now + ttl))
    held = set(conn.execute(select(run_leases.c.branch_id).where(*mine)).scalars())
    return [b for b in ids if b not in held]


#: Branch ids per statement when taking many (well under every driver's parameter limit).
_CHUNK = 500


def take_unfinished(
    conn: Connection, branch_ids: Collection[str], owner: str, now: float, ttl: float
) -> list[str]:
    """Hold every branch of ``branch_ids`` that is not done and that nobody else holds live,
    a few statements per 500 branches; returns the ones now held. A branch done by another
    process is skipped: its runner records ``done`` before giving the lease up."""
    until, held = now + ttl, list[str]()
    ids = list(dict.fromkeys(branch_ids))
    for k in range(0, len(ids), _CHUNK):
        chunk = ids[k : k + _CHUNK]
        unfinished = select(branches.c.id).where(
            branches.c.id.in_(chunk), branches.c.status != BranchStatus.DONE.value
        )
        conn.execute(
            update(run_leases)
            .where(
                run_leases.c.branch_id.in_(unfinished),
                or_(run_leases.c.owner == owner, run_leases.c.expires_at <= now),
            )
            .values(owner=owner, expires_at=until)
        )
        absent = select(branches.c.id, branches.c.tenant_id, literal(owner), literal(until)).where(
            branches.c.id.in_(chunk), branches.c.status != BranchStatus.DONE.value
        )
        insert_new_from(conn, run_leases, ["branch_id", "tenant_id", "owner", "expires_at"], absent)
        mine = select(run_leases.c.branch_id).where(
            run_leases.c.owner == owner, run_leases.c.branch_id.in_(chunk)
        )
        held.extend(conn.execute(mine).scalars())
    return held


def unfinished(conn: Connection, branch_ids: Collection[str]) -> dict[str, Lease | None]:
    """Those of ``branch_ids`` whose stored status is not ``done``, each with its lease (live
    or not; None if nobody holds it), read together."""
    ids, out = list(branch_ids), dict[str, Lease | None]()
    for k in range(0, len(ids), _CHUNK):
        query = (
            select(branches.c.id, run_leases.c.owner, run_leases.c.expires_at)
            .select_from(branches.outerjoin(run_leases, run_leases.c.branch_id == branches.c.id))
            .where(
                branches.c.id.in_(ids[k : k + _CHUNK]),
                branches.c.status != BranchStatus.DONE.value,
            )
        )
        for branch_id, owner, expires_at in conn.execute(query):
            out[branch_id] = None if owner is None else Lease(branch_id, owner, float(expires_at))
    return out


def renew_all(conn: Connection, owner: str, now: float, ttl: float) -> set[str]:
    """Extend every lease ``owner`` holds in one statement; returns the branches it holds."""
    mine = run_leases.c.owner == owner
    conn.execute(update(run_leases).where(mine).values(expires_at=now + ttl))
    return set(conn.execute(select(run_leases.c.branch_id).where(mine)).scalars())


def release(conn: Connection, branch_id: str, owner: str) -> None:
    """Give ``branch_id`` up (nothing happens if ``owner`` no longer holds it)."""
    conn.execute(
        delete(run_leases).where(run_leases.c.branch_id == branch_id, run_leases.c.owner == owner)
    )


_BRANCH_AND_LEASE = (
    select(branches, run_leases.c.owner.label("lease_owner"), run_leases.c.expires_at)
    .select_from(
        branches.join(scenarios, scenarios.c.id == branches.c.scenario_id).outerjoin(
            run_leases, run_leases.c.branch_id == branches.c.id
        )
    )
    .where(scenarios.c.deleted_at.is_(None))
)


def branch_and_lease(
    conn: Connection, branch_id: str, tenant_id: str | None = None
) -> tuple[Branch, Lease | None]:
    """The branch row and its lease in ONE statement (one consistent snapshot), so the two
    never disagree; ``BranchNotFound`` if missing, deleted, or another tenant's."""
    query = _BRANCH_AND_LEASE.where(branches.c.id == branch_id)
    if tenant_id is not None:
        query = query.where(branches.c.tenant_id == tenant_id)
    row = conn.execute(query).first()
    if row is None:
        raise BranchNotFound(f"no branch '{branch_id}'")
    return q.row_to_branch(row), lease_in(row, branch_id)


def lease_in(row: Any, branch_id: str) -> Lease | None:
    """The lease columns (``lease_owner``, ``expires_at``) of a row joined with the leases."""
    m = row._mapping
    if m["lease_owner"] is None:
        return None
    return Lease(branch_id, m["lease_owner"], float(m["expires_at"]))


def as_running(branch: Branch, lease: Lease | None, now: float) -> tuple[Branch, bool]:
    """The branch as it stands, given its lease: ``running`` (no failure) while a live lease
    holds it; ``paused`` if its row says running but nobody holds it (the owner died
    mid-run: it can be resumed). A finished branch stays ``done`` or ``failed`` whatever
    lease is left (its runner records that before it lets the lease go). Also whether it is
    running."""
    if branch.status in (BranchStatus.DONE, BranchStatus.FAILED):
        return branch, False
    if lease is not None and lease.live(now):
        return replace(branch, status=BranchStatus.RUNNING, failure=None), True
    if branch.status is BranchStatus.RUNNING:
        return replace(branch, status=BranchStatus.PAUSED), False
    return branch, False


class RunLeases:
    """One process's leases on one store: take, renew, release, and read them."""

    def __init__(self, store: SqlStore, *, owner: str | None = None, ttl: float | None = None):
        self.store = store
        self.owner = owner or new_owner_id()
        self.ttl = ttl if ttl is not None else lease_ttl()

    def take(self, branch_id: str) -> None:
        owner, ttl = self.owner, self.ttl
        self.store.write(lambda c: take(c, branch_id, owner, time.time(), ttl))

    def renew(self, branch_ids: Collection[str]) -> list[str]:
        """Renew the leases of ``branch_ids``; the ones lost (taken over after expiring)."""
        owner, ttl, ids = self.owner, self.ttl, list(branch_ids)
        return self.store.write(lambda c: renew(c, ids, owner, time.time(), ttl))

    def take_unfinished(self, branch_ids: Collection[str]) -> list[str]:
        """Hold those of ``branch_ids`` not done and not run elsewhere; the ones held."""
        owner, ttl, ids = self.owner, self.ttl, list(branch_ids)
        return self.store.write(lambda c: take_unfinished(c, ids, owner, time.time(), ttl))

    def unfinished(self, branch_ids: Collection[str]) -> dict[str, Lease | None]:
        """Those of ``branch_ids`` not done, each with its lease (see :func:`unfinished`)."""
        with self.store.reading() as conn:
            return unfinished(conn, branch_ids)

    def renew_all(self) -> set[str]:
        """Renew all of this owner's leases at once; the branches it still holds."""
        owner, ttl = self.owner, self.ttl
        return self.store.write(lambda c: renew_all(c, owner, time.time(), ttl))

    def release(self, branch_id: str) -> None:
        owner = self.owner
        self.store.write(lambda c: release(c, branch_id, owner))

    def read(self, branch_id: str, tenant_id: str | None = None) -> tuple[Branch, Lease | None]:
        """The branch and its lease, read together (see :func:`branch_and_lease`)."""
        with self.store.reading() as conn:
            return branch_and_lease(conn, branch_id, tenant_id)

    def holder(self, branch_id: str) -> Lease | None:
        """The live lease on ``branch_id`` (anyone's), or None."""
        with self.store.reading() as conn:
            row = conn.execute(
                select(run_leases).where(run_leases.c.branch_id == branch_id)
            ).first()
        if row is None or row.expires_at <= time.time():
            return None
        return Lease(branch_id, row.owner, float(row.expires_at))


@asynccontextmanager
async def holding(leases: RunLeases, branch_id: str) -> AsyncIterator[None]:
    """Hold ``branch_id``'s lease for the body (``BranchBusy`` if someone else runs it),
    renewing it a few times per TTL; the body's task is cancelled if the lease is lost."""
    await asyncio.to_thread(leases.take, branch_id)
    renew, release = (lambda: leases.renew([branch_id])), (lambda: leases.release(branch_id))
    async with renewing(renew, leases.ttl, release):
        yield


@asynccontextmanager
async def renewing(
    renew: Callable[[], list[str]], ttl: float, release: Callable[[], None]
) -> AsyncIterator[None]:
    """For the body, call ``renew`` (in a thread; it returns the keys lost) a few times per
    ``ttl``, and cancel the body's task once a key is lost: another process took it over,
    stop writing to it. ``release`` at the end, however the body ends."""
    owner, gone = asyncio.current_task(), asyncio.Event()

    def lost(_key: str) -> None:
        if owner is not None and not gone.is_set():
            owner.cancel()  # once: the body's own clean-up must not be cancelled again
        gone.set()

    # ``renew`` knows its keys: one placeholder stands for them all
    renewer = asyncio.create_task(
        keep_renewed(
            ttl, lambda: ("leases",), lambda _: renew(), lost, while_=lambda: not gone.is_set()
        )
    )
    try:
        yield
    finally:
        renewer.cancel()
        await asyncio.gather(renewer, return_exceptions=True)
        await asyncio.shield(asyncio.to_thread(release))


async def keep_renewed(
    ttl: float,
    held: Callable[[], Collection[str]],
    renew: Callable[[list[str]], Collection[str]],
    on_lost: Callable[[str], None],
    *,
    while_: Callable[[], bool] = lambda: True,
) -> None:
    """The one lease renewer: every ``ttl / 3`` while ``while_()``, renew the keys ``held()``
    names (``renew`` runs in a thread and returns those of them no longer held) and call
    ``on_lost(key)`` for each key lost (another process took it over after it lapsed).

    ``held()`` is read *before* the renewal: a key taken while the renewal runs is not in
    it, so it is never reported lost (its lease is ours, the renewal just did not see it).
    A failed renewal (a locked database now and then) is tried again next round."""
    while while_():
        await asyncio.sleep(ttl / 3)
        keys = list(held())
        if not keys:
            continue
        try:
            lost = await asyncio.to_thread(renew, keys)
        except Exception as exc:
            log.debug("lease renewal failed; next round", error=repr(exc))
            continue
        for key in lost:
            on_lost(key)
