"""A WebSocket client on replica A receives every event a worker process appends, exactly
once and in order, while replica B (through which the run was started) is killed with
``kill -9`` and the worker is restarted mid-run (SIGTERM: its slice is handed back)."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from aegntix.timeline.schema import run_leases
from aegntix.timeline.sqlstore import SqlStore
from tests.server.test_bus_processes import _collect as collect
from tests.workers.support import Cluster, town_hall, wait_for

pytestmark = pytest.mark.slow

#: Steps of the run: enough that the kill and the restart (a few steps in) land mid-run. A
#: lone branch's slice (3 steps) hands over to its successor in about a second, so each
#: step here is about a third of a second of the test's time.
STEPS = 90


def _leased(db: SqlStore, branch_id: str) -> bool:
    with db.reading() as conn:
        expires = conn.execute(
            select(run_leases.c.expires_at).where(run_leases.c.branch_id == branch_id)
        ).scalar()
    return expires is not None and expires > time.time()


async def test_replica_a_streams_worker_events_exactly_once_across_kills(
    cluster: Cluster, db: SqlStore
) -> None:
    (a, b), (worker,) = cluster.start(serves=2, workers=[4])
    with a.client() as api:
        r = api.post(
            "/v1/scenarios", content=town_hall(STEPS), headers={"content-type": "application/yaml"}
        )
        assert r.status_code == 201, r.text
        branch = r.json()["root_branch"]["id"]
    url = f"{a.ws_base}/v1/branches/{branch}/stream?api_key={a.key}"
    ready = asyncio.Event()
    final: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    reader = asyncio.create_task(collect(url, ready, final))
    await asyncio.wait_for(ready.wait(), 60)

    def status() -> dict[str, object]:
        with a.client() as api:
            body: dict[str, object] = api.get(f"/v1/branches/{branch}/status").json()
            return body

    with b.client() as via_b:
        assert via_b.post(f"/v1/branches/{branch}/run").status_code == 202

    def past(step: int) -> bool:
        return int(status()["head_step"]) >= step  # type: ignore[call-overload]

    await asyncio.to_thread(wait_for, "the run under way", lambda: past(3))
    # (process waits in threads: the stream is read on this loop, and a client that does
    # not answer A's pings for 45 s is closed — a worker start on a loaded machine)
    await asyncio.to_thread(Cluster.kill9, b.proc)  # the replica that started the run dies
    await asyncio.to_thread(wait_for, "a slice on the worker", lambda: _leased(db, branch))
    worker.proc.terminate()  # restart the worker mid-run
    await asyncio.to_thread(worker.proc.wait, 60)
    assert not past(STEPS), "the run ended before the worker restart: make it longer"
    await asyncio.to_thread(cluster.worker)
    await asyncio.to_thread(wait_for, "the run done", lambda: status()["status"] == "done", 600)
    head = int(status()["head_seq"])  # type: ignore[call-overload]
    final.set_result(head)
    hello, seqs = await asyncio.wait_for(reader, 120)
    assert hello["type"] == "hello"
    assert seqs == list(range(1, head + 1))  # every event once, in order
    stopped = [line for line in worker.lines() if line.get("event") == "worker stopping"]
    assert stopped, "the worker did not stop on SIGTERM"
