"""The branch stream over real WebSockets: uvicorn on a loopback port, the ``websockets``
client library. Live order, exactly-once resume across forced disconnects, a stalled client
that slows nobody, and the invariant under random disconnect points (hypothesis)."""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect

from aegntix.analysis.parallel import shared_database
from aegntix.model.events import BranchStatus, EventKind, NewEvent
from aegntix.timeline import open_store
from tests.server.test_stream_support import (
    Received,
    StreamServer,
    collect,
    collect_resuming,
    new_branch,
    publish_run,
    stream_server,
)

__all__ = ["stream_server"]  # the fixture, re-exported so pytest finds it here


async def test_live_events_arrive_in_order_while_a_run_is_going(
    stream_server: StreamServer,
) -> None:
    server = stream_server
    branch = new_branch(server)
    url = server.ws_url(branch, key=server.owner_key)
    async with connect(url, proxy=None) as ws:
        hello = json.loads(await ws.recv())
        assert hello == {
            "type": "hello",
            "branch_id": branch,
            "from_seq": 1,
            "head_seq": 0,
            "status": "idle",
        }
        run = server.start(publish_run(server.app, branch, steps=40, per_step=3, delay=0.002))
        got = await collect(ws, until_seq=120)
    times = await run
    assert got.seqs == list(range(1, 121))
    assert got.statuses == ["running"]  # "done" comes after the last event
    assert len(times) == 120


async def test_backlog_then_live_from_any_seq(stream_server: StreamServer) -> None:
    """A history of several store pages (500 events each), then live events meanwhile."""
    server = stream_server
    branch = new_branch(server)
    await server.start(publish_run(server.app, branch, steps=400, per_step=3))  # 1..1200
    run = server.start(
        publish_run(server.app, branch, steps=50, per_step=3, first_step=400, delay=0.002)
    )
    async with connect(server.ws_url(branch, from_seq=101), proxy=None) as ws:
        hello = json.loads(await ws.recv())
        assert hello["from_seq"] == 101 and hello["head_seq"] >= 1200
        got = await collect(ws, until_seq=1350)
    await run
    assert got.seqs == list(range(101, 1351))


async def test_from_seq_past_the_head_waits_for_that_seq(stream_server: StreamServer) -> None:
    server = stream_server
    branch = new_branch(server)
    async with connect(server.ws_url(branch, from_seq=7), proxy=None) as ws:
        assert json.loads(await ws.recv())["head_seq"] == 0
        await server.start(publish_run(server.app, branch, steps=4, per_step=3))
        got = await collect(ws, until_seq=12)
    assert got.seqs == list(range(7, 13))


async def test_resume_is_exactly_once_across_a_forced_disconnect(
    stream_server: StreamServer,
) -> None:
    server = stream_server
    branch = new_branch(server)
    run = server.start(publish_run(server.app, branch, steps=100, per_step=3, delay=0.003))
    received = await collect_resuming(server, branch, until_seq=300, cuts=[37, 150])
    await run
    assert received == list(range(1, 301))  # no gap, no duplicate, in order
    assert server.hub.subscriber_count() == 0


@settings(max_examples=12)
@given(
    cuts=st.lists(st.integers(min_value=1, max_value=119), max_size=4),
    delay=st.sampled_from([0.0, 0.001, 0.004]),
)
def test_no_event_is_lost_or_duplicated_whatever_the_disconnect_points(
    stream_server: StreamServer, cuts: list[int], delay: float
) -> None:
    """Disconnect (abort) after each cut point's number of events, resume from last + 1:
    the union of what arrived is exactly 1..N, each once, in order."""
    server = stream_server

    async def scenario() -> list[int]:
        branch = new_branch(server)
        run = server.start(publish_run(server.app, branch, steps=40, per_step=3, delay=delay))
        got = await collect_resuming(server, branch, until_seq=120, cuts=cuts)
        await run
        return got

    assert asyncio.run(scenario()) == list(range(1, 121))


async def test_a_stalled_client_slows_neither_the_run_nor_other_clients(
    stream_server: StreamServer,
) -> None:
    server = stream_server
    server.hub.max_queue = 100  # read at subscribe time; small so the stall overflows soon
    branch = new_branch(server)
    steps, per_step = 300, 5
    n = steps * per_step

    # The stalled client: a tiny receive buffer, reads its hello and then nothing.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    slow = await connect(
        server.ws_url(branch), proxy=None, sock=sock, max_queue=4, compression=None
    )
    assert json.loads(await slow.recv())["type"] == "hello"

    async with connect(server.ws_url(branch), proxy=None) as fast:
        assert json.loads(await fast.recv())["type"] == "hello"
        run = server.start(
            publish_run(server.app, branch, steps=steps, per_step=per_step, delay=0.002, pad=3000)
        )
        got = await collect(fast, until_seq=n, stamp=True)
    times = await run
    assert got.seqs == list(range(1, n + 1))
    latencies = [got.stamps[seq] - times[seq].published for seq in got.seqs]
    publish_costs = [t.publish_cost for t in times.values()]
    assert server.hub.stats.overflows >= 1  # the stalled one overflowed …
    # … while the fast one kept receiving promptly (generous bounds: client, server and the
    # run share this process and its GIL; the real figures are in benchmarks/ws_latency.py)
    assert statistics.quantiles(latencies, n=100)[98] < 0.25, _summary(latencies)
    # publishing never waited for the stalled client (p99, not max: a GC may land in one)
    assert statistics.quantiles(publish_costs, n=100)[98] < 0.01

    # The stalled client wakes up: a resync, then the rest from the store, exactly once.
    later = await collect(slow, until_seq=n)
    await slow.close()
    assert later.resyncs, "the stalled client was told it fell behind"
    assert later.seqs == list(range(1, n + 1))
    assert later.resyncs[0] == later.seqs[later.resync_at[0]]


def _summary(latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "p50_ms": ordered[len(ordered) // 2] * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99)] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


async def test_status_changes_are_streamed(stream_server: StreamServer) -> None:
    server = stream_server
    branch = new_branch(server)
    async with connect(server.ws_url(branch), proxy=None) as ws:
        await ws.recv()
        await server.start(publish_run(server.app, branch, steps=2, per_step=1))
        got: Received = await collect(ws, until_status="done")
    assert got.seqs == [1, 2]
    assert got.statuses == ["running", "done"]


async def test_a_status_comes_after_the_events_before_it_that_the_bus_lost(
    stream_server: StreamServer,
) -> None:
    """Another process appended (its events never reached this hub), then set ``done``: the
    status, which carries the head it was set at, is sent after those events, read from the
    store, not before them (and long before the quiet-period re-read)."""
    server = stream_server
    branch = new_branch(server)
    async with connect(server.ws_url(branch), proxy=None) as ws:
        await ws.recv()  # hello, head 0
        other = open_store(shared_database(server.store) or "")  # a writer with no bus
        try:
            batch = [NewEvent(1, EventKind.MESSAGE, {"i": i}, "a") for i in range(3)]
            head = other.append(branch, batch)[-1].seq
            other.set_status(branch, BranchStatus.DONE)
        finally:
            other.close()

        async def told() -> None:
            server.hub.publish_status(branch, "done", head_seq=head)

        await server.start(told())
        got: Received = await collect(ws, until_status="done", timeout=10)
    assert got.seqs == [1, 2, 3]  # every event, then "done"
    assert got.statuses == ["done"] and got.pings == 0


async def test_a_fork_streams_its_inherited_history_then_its_own_events(
    stream_server: StreamServer,
) -> None:
    server = stream_server
    parent = new_branch(server)
    await server.start(publish_run(server.app, parent, steps=10, per_step=2))  # 20 events
    child = server.store.fork(parent, at_step=4).id  # inherits steps 0..4 = seq 1..10
    run = server.start(publish_run(server.app, child, steps=5, per_step=2, first_step=5))
    async with connect(server.ws_url(child), proxy=None) as ws:
        hello = json.loads(await ws.recv())
        assert hello["branch_id"] == child
        got = await collect(ws, until_seq=20, full=True)
    await run
    assert got.seqs == list(range(1, 21))
    owners = {e["seq"]: e["branch_id"] for e in got.events}
    assert {owners[s] for s in range(1, 11)} == {parent}
    assert {owners[s] for s in range(11, 21)} == {child}


async def test_receipt_is_fast_enough_to_be_useful(stream_server: StreamServer) -> None:
    """Not a benchmark: a smoke check that one client's events are not batched up."""
    server = stream_server
    branch = new_branch(server)
    async with connect(server.ws_url(branch), proxy=None, compression=None) as ws:
        await ws.recv()
        run = server.start(publish_run(server.app, branch, steps=100, per_step=1, delay=0.005))
        got = await collect(ws, until_seq=100, stamp=True)
    times = await run
    latencies = sorted(got.stamps[s] - times[s].published for s in got.seqs)
    assert latencies[len(latencies) // 2] < 0.05, _summary(latencies)
    _ = time.perf_counter  # stamps and publish times share this clock
