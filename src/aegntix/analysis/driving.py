"""Who drives a rollout set now, in the database (table ``set_leases``), so every process
answers alike: the process driving the set holds a lease on it (and its control), renews it
while it drives and releases it when done.

On PostgreSQL an API replica does not drive sets: it *queues* them (:func:`queue_sets`: a
lease row owned by :data:`QUEUED`, which reads as driven), and a worker adopts them
(:meth:`SetLeases.adopt`) — queued rows, and rows whose driver stopped renewing (it died,
``kill -9``). So a set goes on to the end whichever process dies. ``aegntix rollouts`` on
workers drives its sets itself, under the same leases.

With SQLite one process serves, and its in-memory progress board already knows: no lease.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from contextlib import AbstractAsyncContextManager

from sqlalchemy import Connection, delete, or_, select, update

from aegntix.analysis.rollouts import repository
from aegntix.errors import BranchBusy
from aegntix.timeline.inserts import insert_new
from aegntix.timeline.leases import claim, lease_ttl, new_owner_id, renewing
from aegntix.timeline.schema import set_leases
from aegntix.timeline.sqlstore import SqlStore
from aegntix.timeline.tenancy import TenantStore

#: The owner of a set's lease while it waits for a worker to drive it.
QUEUED = "queued"
#: The expiry of a queued set's lease: never (a worker adopts it, however long that takes).
_NEVER = 1e15


def _take(
    conn: Connection, set_ids: list[str], tenant_id: str, owner: str, until: float, now: float
) -> None:
    for set_id in set_ids:
        row = {"set_id": set_id, "tenant_id": tenant_id}
        # raising rolls the whole transaction back: all the sets held or none
        if not claim(conn, set_leases, row, owner, now, until):
            raise BranchBusy(f"rollout set '{set_id}' is already running (on another replica)")


class SetLeases:
    """One replica's leases on rollout sets of one store."""

    def __init__(self, store: SqlStore, *, owner: str | None = None, ttl: float | None = None):
        self.store = store
        self.owner = owner or new_owner_id()
        self.ttl = ttl if ttl is not None else lease_ttl()

    def take(self, set_ids: Collection[str], tenant_id: str) -> None:
        """Hold every one of ``set_ids``, or ``BranchBusy`` (nothing held) if another
        replica's lease on one of them is live."""
        ids, owner, now = list(set_ids), self.owner, time.time()
        self.store.write(lambda c: _take(c, ids, tenant_id, owner, now + self.ttl, now))

    def renew(self, set_ids: Collection[str]) -> list[str]:
        """Extend this replica's leases on ``set_ids``; the ones it no longer holds (taken
        over by another replica after they lapsed)."""
        ids, owner, until = list(set_ids), self.owner, time.time() + self.ttl
        mine = (set_leases.c.owner == owner, set_leases.c.set_id.in_(ids))

        def op(conn: Connection) -> list[str]:
            conn.execute(update(set_leases).where(*mine).values(expires_at=until))
            held = set(conn.execute(select(set_leases.c.set_id).where(*mine)).scalars())
            return [i for i in ids if i not in held]

        return self.store.write(op)

    def release(self, set_ids: Collection[str]) -> None:
        ids, owner = list(set_ids), self.owner
        mine = (set_leases.c.owner == owner, set_leases.c.set_id.in_(ids))
        self.store.write(lambda c: c.execute(delete(set_leases).where(*mine)))

    def adopt(self, set_ids: Collection[str], tenant_id: str) -> bool:
        """Drive every one of ``set_ids`` if each is queued, its driver's lease lapsed, or
        has no lease; all or none (False: another driver holds one, or adopted it first)."""
        ids, owner, now = list(set_ids), self.owner, time.time()
        until = now + self.ttl

        def op(conn: Connection) -> None:
            for set_id in ids:
                free = or_(set_leases.c.owner == QUEUED, set_leases.c.expires_at <= now)
                taken = conn.execute(
                    update(set_leases)
                    .where(set_leases.c.set_id == set_id, free)
                    .values(owner=owner, expires_at=until)
                ).rowcount
                row = {"set_id": set_id, "tenant_id": tenant_id, "owner": owner}
                if not taken and not insert_new(conn, set_leases, {**row, "expires_at": until}):
                    raise BranchBusy(f"rollout set '{set_id}' has a live driver")  # all or none

        try:
            self.store.write(op)
        except BranchBusy:
            return False
        return True

    def hand_back(self, set_ids: Collection[str]) -> None:
        """Queue the sets again (this driver stops, e.g. its worker shuts down): another
        worker adopts them at once, not one TTL later."""
        ids, owner = list(set_ids), self.owner
        mine = (set_leases.c.owner == owner, set_leases.c.set_id.in_(ids))
        self.store.write(
            lambda c: c.execute(
                update(set_leases).where(*mine).values(owner=QUEUED, expires_at=_NEVER)
            )
        )


def queue_sets(store: SqlStore, set_ids: Collection[str], tenant_id: str) -> None:
    """Ask the workers to drive ``set_ids`` (a set and its control): ``BranchBusy`` (nothing
    queued) if a live driver has one of them; queuing a queued set again is a no-op."""
    ids, now = list(set_ids), time.time()
    store.write(lambda c: _take(c, ids, tenant_id, QUEUED, _NEVER, now))


def orphaned(store: SqlStore) -> list[tuple[str, str]]:
    """``(set id, tenant id)`` of the sets waiting for a driver: queued, or whose driver
    stopped renewing (it died). None on SQLite."""
    if store.engine.dialect.name != "postgresql":
        return []
    now = time.time()
    query = select(set_leases.c.set_id, set_leases.c.tenant_id).where(
        or_(set_leases.c.owner == QUEUED, set_leases.c.expires_at <= now)
    )
    with store.reading() as conn:
        return [(str(r[0]), str(r[1])) for r in conn.execute(query)]


def driven(store: SqlStore, set_ids: Collection[str]) -> set[str]:
    """Those of ``set_ids`` some replica drives now (a live lease), in one query; none on
    SQLite (no lease is taken there)."""
    if not set_ids or store.engine.dialect.name != "postgresql":
        return set()
    query = select(set_leases.c.set_id).where(
        set_leases.c.set_id.in_(list(set_ids)), set_leases.c.expires_at > time.time()
    )
    with store.reading() as conn:
        return set(conn.execute(query).scalars())


def check_undriven(store: TenantStore, set_id: str) -> None:
    """``BranchBusy`` if a replica drives the set (or its control) now."""
    ids = [set_id]
    if (control_id := repository(store).get(set_id).control_id) is not None:
        ids.append(control_id)
    if driven(store.backend, ids):
        raise BranchBusy(f"rollout set '{set_id}' is already running (on another replica)")


def driving(leases: SetLeases, set_ids: list[str]) -> AbstractAsyncContextManager[None]:
    """Renew the sets' leases (taken with :meth:`SetLeases.take`) a few times per TTL for
    the body; release them at the end, however it ends. The body's task is cancelled if a
    lease is lost (it lapsed and another replica took the set over: one driver at a time)."""
    return renewing(lambda: leases.renew(set_ids), leases.ttl, lambda: leases.release(set_ids))
