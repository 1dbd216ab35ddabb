"""A stream whose branch is quiet re-reads the store every ``ping_interval`` (what a lossy
bus dropped arrives that way): the branch's state first, and its events only when the head
moved — a quiet branch costs one read per interval, and what was appended unannounced still
arrives, once, in order, before the status set after it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from aegntix.model.events import BranchStatus, EventKind, NewEvent
from aegntix.server import stream
from aegntix.server.stream import StreamConfig
from aegntix.timeline import open_store
from tests.server.test_stream_support import StreamServer, new_branch, stream_server

__all__ = ["stream_server"]  # the fixture, re-exported so pytest finds it here


@pytest.fixture
def event_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The ``from_seq`` of each store read of events a stream makes after its backlog."""
    reads: list[int] = []
    real = stream._open_events

    def counted(store: Any, branch_id: str, from_seq: int) -> Any:
        reads.append(from_seq)
        return real(store, branch_id, from_seq)

    monkeypatch.setattr(stream, "_open_events", counted)
    yield reads


async def first_event(ws: Any) -> dict[str, Any]:
    """The next event: pings (every 0.1 s here) may come first on a loaded machine."""
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == "event":
            return dict(message["event"])
        assert message["type"] in ("ping", "status"), message
        if message["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))


async def test_a_quiet_branch_is_re_read_without_its_events(
    stream_server: StreamServer, location: str, event_reads: list[int]
) -> None:
    stream_server.app.state.stream_config = StreamConfig(ping_interval=0.1, idle_timeout=30)
    branch = new_branch(stream_server)
    store = stream_server.store
    first = store.append(branch, [NewEvent(0, EventKind.MESSAGE, {"n": 0}, "a")])
    async with connect(stream_server.ws_url(branch), proxy=None) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        assert (await first_event(ws))["seq"] == first[-1].seq
        await asyncio.sleep(0.8)  # several quiet intervals, nothing appended
        assert event_reads == []  # the state said the head had not moved

        # written with no announcement (another process, no bus), then its status
        other = open_store(location)
        try:
            new = [NewEvent(1, EventKind.MESSAGE, {"n": i}, "a") for i in (1, 2)]
            more = await asyncio.to_thread(other.append, branch, new)
            await asyncio.to_thread(other.set_status, branch, BranchStatus.DONE)
        finally:
            other.close()
        got: list[tuple[str, Any]] = []
        async with asyncio.timeout(20):
            while not got or got[-1] != ("status", "done"):
                message = json.loads(await ws.recv())
                if message["type"] == "event":
                    got.append(("event", message["event"]["seq"]))
                elif message["type"] == "status":
                    got.append(("status", message["status"]))
                elif message["type"] == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
    assert got == [("event", e.seq) for e in more] + [("status", "done")]
    assert event_reads[:1] == [first[-1].seq + 1]  # read once the head had moved
