"""Run status from one read of the branch row and its lease: consistent under many short
runs, honest after a crash, and a branch another process runs is busy here; the stream
catches up with what no bus announced."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from aegntix.model.events import BranchStatus, EventKind, NewEvent
from aegntix.server.stream import StreamConfig
from aegntix.timeline import open_store
from aegntix.timeline.leases import RunLeases
from tests.server.api_support import assert_problem, create, wait_idle
from tests.server.conftest import LiveServer, serving

SETTLED = {"idle", "paused", "done"}


@pytest.fixture
def server(location: str, tmp_path: Path) -> Iterator[LiveServer]:
    with serving(tmp_path, db=location) as live:
        yield live


def _poll(server: LiveServer, branch_ids: list[str], stop: threading.Event) -> list[Any]:
    answers: list[Any] = []
    with server.client(server.owner_key) as client:
        while not stop.is_set():
            for branch_id in branch_ids:
                answers.append(client.get(f"/v1/branches/{branch_id}/status").json())
    return answers


def test_status_never_contradicts_itself_during_many_short_runs(server: LiveServer) -> None:
    with server.client(server.owner_key) as client:
        # town-hall runs its 12 steps to the end: 120 one-step runs over 10 branches
        branch_ids = [create(client, "town-hall")["root_branch"]["id"] for _ in range(10)]
        stop = threading.Event()
        polled: list[list[Any]] = []
        pollers = [
            threading.Thread(target=lambda: polled.append(_poll(server, branch_ids, stop)))
            for _ in range(2)
        ]
        for poller in pollers:
            poller.start()
        runs = 0
        try:
            for _ in range(12):
                for branch_id in branch_ids:
                    r = client.post(f"/v1/branches/{branch_id}/run", json={"steps": 1})
                    assert r.status_code == 202, r.text
                    runs += 1
                for branch_id in branch_ids:
                    wait_idle(client, branch_id)
        finally:
            stop.set()
            for poller in pollers:
                poller.join(60)
        final = [client.get(f"/v1/branches/{b}/status").json() for b in branch_ids]
    answers = [answer for one in polled for answer in one]
    assert runs >= 100
    assert len(answers) > runs
    for answer in answers:
        assert (answer["status"] == "running") == answer["running"], answer
        assert answer["running"] or answer["status"] in SETTLED, answer
        if answer["running"]:
            assert answer["failure"] is None
    for answer in final:
        assert answer == {**answer, "status": "done", "running": False, "head_step": 12}
    for one in polled:  # one poller's reads of a branch never go back in time
        heads: dict[str, int] = {}
        for answer in one:
            assert answer["head_seq"] >= heads.get(answer["branch_id"], 0), answer
            heads[answer["branch_id"]] = answer["head_seq"]


def test_a_dead_owner_s_branch_reads_not_running_and_can_be_run_again(
    server: LiveServer,
) -> None:
    with server.client(server.owner_key) as client:
        branch_id = create(client)["root_branch"]["id"]
        # What a crashed process leaves: the branch marked running, a lease nobody renews
        # (its TTL outlasts the first reads below even on a loaded machine).
        dead = RunLeases(server.store, owner="crashed-process", ttl=5.0)
        dead.take(branch_id)
        server.store.set_status(branch_id, BranchStatus.RUNNING)
        first = client.get(f"/v1/branches/{branch_id}/status").json()
        assert first["running"] and first["status"] == "running"
        assert client.get(f"/v1/branches/{branch_id}").json()["status"] == "running"
        assert_problem(client.post(f"/v1/branches/{branch_id}/run"), 409)
        deadline = time.monotonic() + 30
        while client.get(f"/v1/branches/{branch_id}/status").json()["running"]:
            assert time.monotonic() < deadline, "the dead owner's lease never expired"
            time.sleep(0.05)
        after = client.get(f"/v1/branches/{branch_id}/status").json()
        assert after["status"] == "paused" and not after["running"]
        assert client.get(f"/v1/branches/{branch_id}").json()["status"] == "paused"
        r = client.post(f"/v1/branches/{branch_id}/run")
        assert r.status_code == 202, r.text
        assert wait_idle(client, branch_id)["status"] == "done"


def test_a_branch_run_by_another_process_is_busy_here(server: LiveServer) -> None:
    with server.client(server.owner_key) as client:
        branch_id = create(client)["root_branch"]["id"]
        elsewhere = RunLeases(server.store, owner="another-process", ttl=60)
        elsewhere.take(branch_id)
        body = assert_problem(client.post(f"/v1/branches/{branch_id}/run"), 409)
        assert "running" in body["detail"]
        assert_problem(client.post(f"/v1/branches/{branch_id}/step"), 409)
        inject = {"content": "news"}
        assert_problem(client.post(f"/v1/branches/{branch_id}/inject", json=inject), 409)
        status = client.get(f"/v1/branches/{branch_id}/status").json()
        assert status["running"] and status["status"] == "running"
        elsewhere.release(branch_id)
        assert not client.get(f"/v1/branches/{branch_id}/status").json()["running"]
        r = client.post(f"/v1/branches/{branch_id}/run")
        assert r.status_code == 202, r.text
        wait_idle(client, branch_id)


def test_a_quiet_stream_picks_up_what_no_bus_announced(server: LiveServer, location: str) -> None:
    """Another process writing without a bus (or a message the bus lost): the stream finds
    the events and the new status at its next quiet re-read, once each, in order."""
    server.app.state.stream_config = StreamConfig(ping_interval=0.2)
    with server.client(server.owner_key) as client:
        branch_id = create(client)["root_branch"]["id"]
    url = f"{server.ws_url}/v1/branches/{branch_id}/stream?api_key={server.owner_key}"
    other = open_store(location)  # no bus: nothing is announced

    async def scenario() -> tuple[int, list[int], list[str]]:
        seqs: list[int] = []
        statuses: list[str] = []
        async with connect(url) as ws:
            hello = json.loads(await ws.recv())
            written = await asyncio.to_thread(
                other.append, branch_id, [NewEvent(1, EventKind.MESSAGE, {"text": "hi"}, "buyer")]
            )
            await asyncio.to_thread(other.set_status, branch_id, BranchStatus.DONE)
            while not (seqs and seqs[-1] == written[-1].seq and statuses):
                message = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if message["type"] == "event":
                    seqs.append(message["event"]["seq"])
                elif message["type"] == "status":
                    statuses.append(message["status"])
                elif message["type"] == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
        return int(hello["head_seq"]), seqs, statuses

    try:
        head, seqs, statuses = asyncio.run(scenario())
    finally:
        other.close()
    assert seqs == list(range(1, head + 2))
    assert statuses == ["done"]
