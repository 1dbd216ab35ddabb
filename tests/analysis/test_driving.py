"""Set leases on the machine's PostgreSQL: one driver per set, all of a set and its control
or none, a lapsed lease taken over, and a driver that lost its lease stops driving."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update

from aegntix.analysis.driving import SetLeases, driven, driving
from aegntix.errors import BranchBusy
from aegntix.timeline.schema import set_leases
from aegntix.timeline.sqlstore import SqlStore


def _lapse(store: SqlStore, set_id: str) -> None:
    """As if the holder died a TTL ago (no clock games: the row says so)."""
    store.write(
        lambda c: c.execute(
            update(set_leases).where(set_leases.c.set_id == set_id).values(expires_at=0.0)
        )
    )


def test_one_driver_per_set_all_or_none(pg_store: SqlStore) -> None:
    a, b = SetLeases(pg_store, owner="a"), SetLeases(pg_store, owner="b")
    a.take(["s1", "c1"], "t")
    a.take(["s1", "c1"], "t")  # its own lease: taken again (renewed)
    with pytest.raises(BranchBusy, match="another replica"):
        b.take(["s2", "c1"], "t")  # c1 is a's: b holds neither, s2 included
    assert driven(pg_store, ["s1", "c1", "s2"]) == {"s1", "c1"}
    assert b.renew(["s2"]) == ["s2"]  # b never held it

    _lapse(pg_store, "c1")
    assert driven(pg_store, ["s1", "c1"]) == {"s1"}
    b.take(["c1"], "t")  # a lapsed lease is anyone's
    assert a.renew(["s1", "c1"]) == ["c1"]  # a learns it lost c1
    a.release(["s1", "c1"])  # releases only its own
    assert driven(pg_store, ["s1", "c1"]) == {"c1"}


async def test_a_driver_that_lost_its_lease_is_stopped(pg_store: SqlStore) -> None:
    a, b = SetLeases(pg_store, owner="a", ttl=0.6), SetLeases(pg_store, owner="b", ttl=60)
    a.take(["s"], "t")

    async def drive() -> None:
        async with driving(a, ["s"]):
            await asyncio.sleep(3600)

    task = asyncio.create_task(drive())
    await asyncio.sleep(0)
    _lapse(pg_store, "s")
    b.take(["s"], "t")  # another replica took the set over
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 120)  # bounds a hang only
    assert driven(pg_store, ["s"]) == {"s"}  # b's lease, untouched by a's release
    assert b.renew(["s"]) == []


def test_sqlite_reads_no_driver(store: SqlStore) -> None:
    SetLeases(store, owner="a").take(["s"], "t")  # (never taken there by the server)
    assert driven(store, ["s"]) == set()  # one process: its own board says
