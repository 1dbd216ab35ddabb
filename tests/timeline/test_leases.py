"""Run leases (``timeline/leases.py``) on both backends (``location``: a SQLite file or a
PostgreSQL schema), across real processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from aegntix.engine import start_scenario
from aegntix.errors import BranchBusy, BranchNotFound
from aegntix.timeline import SqlStore, open_store
from aegntix.timeline.leases import RunLeases
from tests.support import example


@pytest.fixture
def db(location: str) -> str:
    return location


@pytest.fixture
def store(db: str) -> Iterator[SqlStore]:
    s = open_store(db)
    yield s
    s.close()


def _branch(store: SqlStore) -> str:
    return start_scenario(store, example("negotiation")).id


def _wait_until_expired(leases: RunLeases, branch_id: str, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while leases.holder(branch_id) is not None:
        assert time.monotonic() < deadline, "the lease never expired"
        time.sleep(0.05)


def test_a_second_owner_gets_branch_busy_until_the_first_releases(store: SqlStore) -> None:
    branch_id = _branch(store)
    first, second = RunLeases(store, owner="first"), RunLeases(store, owner="second")
    first.take(branch_id)
    with pytest.raises(BranchBusy):
        second.take(branch_id)
    first.take(branch_id)  # the holder may take it again (a renewal)
    holder = second.holder(branch_id)
    assert holder is not None and holder.owner == "first"
    first.release(branch_id)
    assert first.holder(branch_id) is None
    second.take(branch_id)
    assert first.renew([branch_id]) == [branch_id]  # first holds it no more
    assert second.renew([branch_id]) == []


def test_an_expired_lease_reads_as_free_and_can_be_taken_over(store: SqlStore) -> None:
    branch_id = _branch(store)
    dead = RunLeases(store, owner="dead", ttl=0.2)
    dead.take(branch_id)
    heir = RunLeases(store, owner="heir", ttl=30)
    _wait_until_expired(heir, branch_id)
    heir.take(branch_id)
    assert dead.renew([branch_id]) == [branch_id]
    dead.release(branch_id)  # a late release of the dead owner takes nothing from the heir
    holder = heir.holder(branch_id)
    assert holder is not None and holder.owner == "heir"


def test_branch_and_lease_are_read_together_within_the_tenant(store: SqlStore) -> None:
    branch_id = _branch(store)
    leases = RunLeases(store, owner="me")
    branch, lease = leases.read(branch_id, "default")
    assert branch.id == branch_id and lease is None
    leases.take(branch_id)
    branch, lease = leases.read(branch_id, "default")
    assert lease is not None and lease.owner == "me" and lease.live(time.time())
    with pytest.raises(BranchNotFound):
        leases.read(branch_id, "another-tenant")
    with pytest.raises(BranchNotFound):
        leases.take("no-such-branch")


_TAKER = textwrap.dedent(
    """
    import sys, time
    from aegntix.errors import BranchBusy
    from aegntix.timeline import open_store
    from aegntix.timeline.leases import RunLeases
    store = open_store(sys.argv[1])
    leases = RunLeases(store, ttl=float(sys.argv[3]))
    while time.time() < float(sys.argv[4]):  # start together
        time.sleep(0.001)
    try:
        leases.take(sys.argv[2])
        print("won", flush=True)
    except BranchBusy:
        print("busy", flush=True)
    time.sleep(float(sys.argv[5]))
    """
)


def _takers(
    db: str, branch_id: str, n: int, ttl: float, hold: float
) -> list[subprocess.Popen[str]]:
    start = time.time() + 2.0
    args = [db, branch_id, str(ttl), str(start), str(hold)]
    return [
        subprocess.Popen([sys.executable, "-c", _TAKER, *args], stdout=subprocess.PIPE, text=True)
        for _ in range(n)
    ]


def test_of_processes_racing_for_one_branch_exactly_one_wins(store: SqlStore, db: str) -> None:
    branch_id = _branch(store)
    procs = _takers(db, branch_id, 4, ttl=30, hold=0)
    answers = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert answers == ["busy", "busy", "busy", "won"]


def test_a_killed_owner_s_branch_is_taken_over_once_its_lease_expires(
    store: SqlStore, db: str
) -> None:
    branch_id = _branch(store)
    (owner,) = _takers(db, branch_id, 1, ttl=5.0, hold=60)
    assert owner.stdout is not None and owner.stdout.readline().strip() == "won"
    owner.kill()  # kill -9: no release
    owner.wait()
    heir = RunLeases(store, owner="heir")
    with pytest.raises(BranchBusy):
        heir.take(branch_id)  # still within its TTL
    _wait_until_expired(heir, branch_id)
    heir.take(branch_id)
