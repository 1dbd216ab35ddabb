"""``QueueExecutor.status`` (every stream handshake, every ``GET /status``) reads the row,
its lease, its intent and the live workers in one statement, on one pooled connection, and
answers as the run stands: idle, queued with no worker, running between slices, pausing,
held by a lease, finished with an intent left behind, and a 404 for another tenant."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, text

from aegntix.engine import start_scenario
from aegntix.errors import BranchNotFound
from aegntix.model.events import Branch, BranchStatus
from aegntix.model.loading import load_scenario
from aegntix.timeline import SqlStore
from aegntix.timeline.leases import RunLeases
from aegntix.timeline.tenancy import TenantStore
from aegntix.workers.executor import RunState
from aegntix.workers.intents import RunIntents, Want
from aegntix.workers.queue import QueueSettings, ensure_schema
from aegntix.workers.remote import QueueExecutor
from aegntix.workers.runstate import RunRow
from tests.support import EXAMPLES


@pytest.fixture
def branch(pg_url: str, pg_store: SqlStore) -> Branch:
    asyncio.run(ensure_schema(pg_url))  # procrastinate_workers
    return start_scenario(pg_store, load_scenario(EXAMPLES / "town-hall.yaml"))


@pytest.fixture
def checkouts(pg_store: SqlStore) -> Iterator[list[int]]:
    """Pooled connections checked out from the store's engine (one entry each)."""
    seen: list[int] = []

    def checked_out(*_: object) -> None:
        seen.append(1)

    event.listen(pg_store.engine, "checkout", checked_out)
    yield seen
    event.remove(pg_store.engine, "checkout", checked_out)


def _status(executor: QueueExecutor, store: TenantStore, branch_id: str) -> RunState:
    return asyncio.run(executor.status(store, branch_id))


def _heartbeat(store: SqlStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now())"))


def test_status_is_one_read_and_follows_the_run(
    pg_store: SqlStore, branch: Branch, checkouts: list[int]
) -> None:
    # status never touches the queue: no procrastinate app needs to be open for it
    executor = QueueExecutor(pg_store, app=None, settings=QueueSettings(), replica=False)  # type: ignore[arg-type]
    scoped = TenantStore(pg_store, branch.tenant_id)
    intents = RunIntents(pg_store)

    checkouts.clear()
    idle = _status(executor, scoped, branch.id)
    assert len(checkouts) == 1  # one connection, one statement
    assert (idle.status, idle.running, idle.head_seq) == (
        branch.status.value,
        False,
        branch.head_seq,
    )

    wanted = intents.begin(branch.id, None)
    checkouts.clear()
    queued = _status(executor, scoped, branch.id)
    assert len(checkouts) == 1  # the live-worker count is in the same statement
    assert (queued.status, queued.running) == ("queued", True)

    _heartbeat(pg_store)
    between = _status(executor, scoped, branch.id)
    assert (between.status, between.running) == ("running", True)

    holder = RunLeases(pg_store, owner="a worker")
    holder.take(branch.id)
    held = _status(executor, scoped, branch.id)
    assert (held.status, held.running) == ("running", True)
    holder.release(branch.id)

    intents.ask(branch.id, Want.PAUSE)
    pausing = _status(executor, scoped, branch.id)
    assert (pausing.status, pausing.running) == ("pausing", True)

    # the slice stored the end before it settled the intent: the end is what is read
    pg_store.set_status(branch.id, BranchStatus.DONE)
    done = _status(executor, scoped, branch.id)
    assert (done.status, done.running) == ("done", False)
    intents.settle(branch.id, wanted.token)
    assert _status(executor, scoped, branch.id).status == "done"


def test_stalled_workers_leave_a_run_queued_and_a_dead_lease_reads_paused(
    pg_store: SqlStore, branch: Branch
) -> None:
    executor = QueueExecutor(pg_store, app=None, settings=QueueSettings(), replica=False)  # type: ignore[arg-type]
    scoped = TenantStore(pg_store, branch.tenant_id)
    with pg_store.engine.begin() as conn:  # a worker that stopped heart-beating long ago
        conn.execute(
            text(
                "INSERT INTO procrastinate_workers (last_heartbeat) "
                "VALUES (now() - interval '1 hour')"
            )
        )
    RunIntents(pg_store).begin(branch.id, None)
    assert _status(executor, scoped, branch.id).status == "queued"

    RunIntents(pg_store).ask(branch.id, Want.CANCEL)
    pg_store.set_status(branch.id, BranchStatus.RUNNING)
    expired = RunLeases(pg_store, owner="a dead worker", ttl=0.05)
    expired.take(branch.id)
    time.sleep(0.1)
    state = _status(executor, scoped, branch.id)
    assert (state.status, state.running) == ("pausing", True)  # the cancel still settles


def test_another_tenants_branch_is_not_found(pg_store: SqlStore, branch: Branch) -> None:
    executor = QueueExecutor(pg_store, app=None, settings=QueueSettings(), replica=False)  # type: ignore[arg-type]
    with pytest.raises(BranchNotFound):
        _status(executor, TenantStore(pg_store, "someone-else"), branch.id)
    with pytest.raises(BranchNotFound):
        _status(executor, TenantStore(pg_store, branch.tenant_id), "no-such-branch")


def test_callers_share_a_read_not_yet_begun_never_one_already_begun(
    pg_store: SqlStore, branch: Branch
) -> None:
    """A run's followers connect together: their status reads wait for a thread, and those
    waiting share one. A caller arriving once the read began gets a read of its own (the
    state it is told must postdate its call: a stream subscribes, then asks)."""
    executor = QueueExecutor(pg_store, app=None, settings=QueueSettings(), replica=False)  # type: ignore[arg-type]
    scoped = TenantStore(pg_store, branch.tenant_id)
    reads: list[str] = []
    began, release = threading.Event(), threading.Event()
    read_run = executor._read_run

    def counted(branch_id: str, tenant_id: str) -> RunRow:
        reads.append(branch_id)
        found = read_run(branch_id, tenant_id)
        if len(reads) == 1:
            began.set()
            release.wait(10)  # the first read has begun (its statement ran) and not ended
        return found

    executor._read_run = counted  # type: ignore[method-assign]

    async def scenario() -> list[RunState]:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(1))
        busy = threading.Event()
        blocker = loop.run_in_executor(None, busy.wait, 10)  # the one thread is taken
        first = asyncio.create_task(executor.status(scoped, branch.id))
        joined = [asyncio.create_task(executor.status(scoped, branch.id)) for _ in range(9)]
        await asyncio.sleep(0.05)  # all ten asked, their read waits for the thread
        busy.set()
        await blocker
        while not began.is_set():  # the one thread began the shared read
            await asyncio.sleep(0.01)
        RunIntents(pg_store).begin(branch.id, None)  # the state changes meanwhile
        later = asyncio.create_task(executor.status(scoped, branch.id))
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(first, *joined, later)

    states = asyncio.run(scenario())
    assert len(reads) == 2  # ten callers, one read; the later caller, its own
    assert {s.status for s in states[:10]} == {branch.status.value}
    assert (states[10].status, states[10].running) == ("queued", True)
    assert executor._reads == {}  # nothing kept once answered
