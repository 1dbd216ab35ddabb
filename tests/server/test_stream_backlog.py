"""The replica's shared backlog (``server/backlog.py``): streams that connect to one branch
together share one store read of its stored events; what they get is exactly the branch's
events, in order, whatever the interleaving of appends and reads."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.client import connect

from aegntix.model.events import EventKind, NewEvent
from aegntix.server.backlog import Backlog
from aegntix.server.hub import event_message
from aegntix.timeline import SqlStore, open_store
from aegntix.timeline.tenancy import TenantStore
from tests.server.test_stream_support import (
    TENANT,
    StreamServer,
    collect,
    new_branch,
    publish_run,
    stream_server,
)

__all__ = ["stream_server"]  # the fixture, re-exported so pytest finds it here


def _branch_with(store: SqlStore, events: int) -> str:
    scenario = store.create_scenario("backlog test", {"name": "t"}, tenant_id=TENANT)
    branch = store.create_branch(scenario.id, seed=1, tenant_id=TENANT).id
    _append(store, branch, events)
    return branch


def _append(store: SqlStore, branch: str, n: int) -> None:
    if n:
        store.append(branch, [NewEvent(0, EventKind.MESSAGE, {"i": i}, "a") for i in range(n)])


async def test_streams_connecting_together_share_one_read(store_on_both: SqlStore) -> None:
    branch = _branch_with(store_on_both, 30)
    scoped = TenantStore(store_on_both, TENANT)
    backlog = Backlog()
    got = await asyncio.gather(*(backlog.upto(scoped, branch, 30) for _ in range(20)))
    expected = [(e.seq, event_message(e)) for e in scoped.events(branch)]
    assert all(list(g) == expected for g in got)
    assert backlog.reads == 1
    _append(store_on_both, branch, 5)
    assert [s for s, _ in await backlog.upto(scoped, branch, 35)] == list(range(1, 36))
    assert backlog.reads == 2  # only the 5 new events were read
    assert backlog.cached_events() == 35


async def test_expiry_and_the_memory_bound(store_on_both: SqlStore) -> None:
    scoped = TenantStore(store_on_both, TENANT)
    branches = [_branch_with(store_on_both, 10) for _ in range(5)]
    backlog = Backlog(max_events=25, ttl=0.2)
    for branch in branches:
        assert len(await backlog.upto(scoped, branch, 10)) == 10
        assert backlog.cached_events() <= 25  # the oldest branches were dropped
    await backlog.upto(scoped, branches[-1], 10)
    assert backlog.reads == 5  # the newest was still cached
    await asyncio.sleep(0.3)
    assert len(await backlog.upto(scoped, branches[-1], 10)) == 10
    assert backlog.reads == 6  # expired: read again
    too_long = Backlog(max_branch_events=5)
    assert await too_long.upto(scoped, branches[0], 10) == ()  # the stream pages it instead
    assert too_long.reads == 0


@given(plan=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1)), min_size=1, max_size=12))
def test_what_it_returns_is_the_branch_up_to_the_head_asked(
    tmp_path: Path, plan: list[tuple[int, int]]
) -> None:
    """Appends and reads in any order: each read returns seqs ``1..head`` exactly, with the
    text of each event as the store holds it."""
    store = open_store(str(tmp_path / f"{uuid.uuid4().hex}.db"))
    try:
        scoped = TenantStore(store, TENANT)
        branch = _branch_with(store, 0)
        backlog = Backlog()

        async def play() -> None:
            head = 0
            for appended, behind in plan:
                _append(store, branch, appended)
                head += appended
                asked = max(0, head - behind)
                got = await backlog.upto(scoped, branch, asked)
                assert [s for s, _ in got] == list(range(1, asked + 1))
                stored = {e.seq: event_message(e) for e in scoped.events(branch)}
                assert all(stored[s] == text for s, text in got)

        asyncio.run(play())
    finally:
        store.close()


async def test_clients_of_one_run_get_every_event_once_from_one_read(
    stream_server: StreamServer,
) -> None:
    server = stream_server
    branch = new_branch(server)
    await server.start(publish_run(server.app, branch, steps=3, per_step=4))  # seq 1..12
    run = server.start(publish_run(server.app, branch, steps=3, per_step=4, first_step=3))

    async def follow() -> list[int]:
        async with connect(server.ws_url(branch), proxy=None) as ws:
            hello = json.loads(await ws.recv())
            assert hello["type"] == "hello"
            return (await collect(ws, until_seq=24)).seqs

    got = await asyncio.gather(*(follow() for _ in range(8)))
    await run
    assert all(seqs == list(range(1, 25)) for seqs in got)
    backlog: Backlog = server.app.state.stream_backlog
    assert backlog.reads <= 4  # not one per client (a client may have seen a higher head)


async def test_batched_frames_carry_every_message_once_in_order(
    stream_server: StreamServer,
) -> None:
    """``batch=1``: after ``hello``, frames are JSON arrays of the usual messages; a run that
    appends 8 events per step arrives in far fewer frames, every event once, in order."""
    server = stream_server
    branch = new_branch(server)
    await server.start(publish_run(server.app, branch, steps=2, per_step=8))  # the backlog
    url = server.ws_url(branch) + "&batch=1"
    frames, seqs, statuses = 0, [], []
    async with connect(url, proxy=None) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello"
        run = server.start(publish_run(server.app, branch, steps=10, per_step=8, first_step=2))
        async with asyncio.timeout(30):
            while not statuses or statuses[-1] != "done" or (seqs and seqs[-1] < 96):
                frame = json.loads(await ws.recv())
                if isinstance(frame, dict):  # a ping (or a lone status) may come alone
                    frame = [frame]
                frames += 1
                for message in frame:
                    if message["type"] == "event":
                        seqs.append(message["event"]["seq"])
                    elif message["type"] == "status":
                        statuses.append(message["status"])
                    elif message["type"] == "ping":
                        await ws.send('{"type": "pong"}')
        await run
    assert seqs == list(range(1, 97))
    assert statuses[-1] == "done"
    assert frames <= 10 + 4  # about one per step (the backlog, then each step), not per event
