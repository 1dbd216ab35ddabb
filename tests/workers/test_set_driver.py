"""Whether a rollout set is being driven is in the database: every API replica reads it alike
(``running``), refuses a second driver, and a set queued by a replica that then dies goes on
to the end once a worker runs, with no user action (real ``aegntix serve`` and ``aegntix
worker`` processes on PostgreSQL); a replica streams a set's progress read from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from functools import partial
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.workers.support import Cluster, new_town_hall, wait_for

pytestmark = pytest.mark.slow


def _running(api: httpx.Client, set_id: str) -> bool:
    r = api.get(f"/v1/rollouts/{set_id}")
    assert r.status_code == 200, r.text
    return bool(r.json()["running"])


async def test_every_replica_reads_who_drives_a_set_and_streams_its_progress(
    cluster: Cluster,
) -> None:
    """Two sets queued through replica A while no worker runs: one to check who drives it,
    one whose progress B streams (one cluster for both: its start-up was most of each)."""
    a, b = cluster.serve(), cluster.serve()
    api_a, api_b = a.client(), b.client()
    root = new_town_hall(api_a, 6)
    # no worker yet: the set waits in the queue for one, however long
    made = api_a.post(f"/v1/branches/{root}/rollouts", json={"n": 3, "at_step": 0})
    assert made.status_code == 202, made.text
    set_id = made.json()["id"]
    assert made.json()["running"] is True
    assert _running(api_b, set_id)  # B queued nothing and still reads it running
    listed = {s["id"]: s["running"] for s in api_b.get("/v1/rollouts").json()}
    assert listed[set_id] is True
    again = api_b.post(f"/v1/rollouts/{set_id}/continue")
    assert again.status_code == 409, again.text  # one driver at a time, across replicas
    assert "another replica" in again.json()["detail"]

    streamed_root = new_town_hall(api_a, 24)
    made = api_a.post(f"/v1/branches/{streamed_root}/rollouts", json={"n": 3, "at_step": 0})
    assert made.status_code == 202, made.text
    streamed = made.json()["id"]
    # B's stream, opened while the set waits for a worker (nothing can finish early)
    url, hello = f"{b.ws_base}/v1/rollouts/{streamed}/stream?api_key={b.key}", asyncio.Event()
    reader = asyncio.create_task(_frames(url, hello))
    await asyncio.wait_for(hello.wait(), 60)

    # (process waits in threads: B's stream is read on this loop, and a client that does
    # not answer B's pings for 45 s is closed, 4408 — a worker start on a loaded machine)
    await asyncio.to_thread(cluster.kill9, a.proc)  # the replica that queued them dies
    await asyncio.sleep(4)  # more than a lease (3 s): a queued set does not lapse
    assert _running(api_b, set_id)  # nothing is lost
    # the worker adopts the sets and drives them: no Continue needed
    await asyncio.to_thread(partial(cluster.worker, concurrency=1))

    def settled() -> bool:
        got = api_b.get(f"/v1/rollouts/{set_id}").json()
        return got["status"] == "done" and got["running"] is False

    await asyncio.to_thread(wait_for, "the set done on B", settled, 600)
    members = api_b.get(f"/v1/rollouts/{set_id}/members").json()
    assert [m["status"] for m in members] == ["done"] * 3
    api_a.close()
    api_b.close()

    frames, code = await asyncio.wait_for(reader, 600)
    assert code == 1000
    assert frames[0]["type"] == "hello" and frames[0]["set"]["running"] is True
    assert frames[-1]["type"] == "settled"
    assert frames[-1]["set"]["status"] == "done" and frames[-1]["set"]["running"] is False
    progress = [f["set"] for f in frames if f["type"] == "progress"]
    assert progress, "B sent no progress while a worker drove the set"
    # the worker forks the members, then runs them: B sees both, in that order
    phases = [p["phase"] for p in progress]
    assert set(phases) <= {"forking", "running"} and phases[-1] == "running"
    assert phases == sorted(phases)  # "forking" < "running": never back
    assert all(p["total"] == 3 for p in progress)
    dones = [p["done"] for p in progress]
    assert dones == sorted(dones) and dones[-1] <= 3  # members only ever finish
    steps = [p["step"] for p in progress if p["step"] is not None]
    assert steps and max(steps) > 0  # the members' heads moved, as read from the database


async def _frames(url: str, hello: asyncio.Event) -> tuple[list[dict[str, Any]], int | None]:
    """Every frame of a set stream (pings left out) until the server closes it; its code."""
    frames: list[dict[str, Any]] = []
    async with connect(url) as ws:
        with contextlib.suppress(ConnectionClosed):
            async for text in ws:
                frame = json.loads(text)
                if frame["type"] != "ping":
                    frames.append(frame)
                    hello.set()
        return frames, ws.close_code
