"""Helpers for the stream tests (no tests here): a uvicorn server on a loopback port serving
the stream router with a real store, hub and API keys; a run that appends and publishes like
the run manager; clients that collect, stamp, abort and resume."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect

from aegntix.model.events import BranchStatus, EventKind, NewEvent
from aegntix.security.keys import create_key
from aegntix.server.app import create_app
from aegntix.server.hub import EventHub
from aegntix.timeline import SqlStore, open_store

TENANT = "acme"


@dataclass
class StreamServer:
    app: FastAPI
    store: SqlStore
    loop: asyncio.AbstractEventLoop
    port: int
    owner_key: str

    @property
    def hub(self) -> EventHub:
        hub: EventHub = self.app.state.hub
        return hub

    def make_key(self, tenant: str, role: str) -> str:
        return create_key(self.store, tenant, role)[1]

    def ws_url(self, branch_id: str, *, key: str | None = "", from_seq: int | None = None) -> str:
        query: dict[str, Any] = {}
        if key is not None:
            query["api_key"] = key or self.owner_key
        if from_seq is not None:
            query["from_seq"] = from_seq
        suffix = f"?{urlencode(query)}" if query else ""
        return f"ws://127.0.0.1:{self.port}/v1/branches/{branch_id}/stream{suffix}"

    def start(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        """Run ``coro`` in the server's event loop (as the run manager would); await the
        result from the caller's loop."""
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))


@pytest.fixture
def stream_server(location: str) -> Iterator[StreamServer]:
    """The real app (``create_app``) on a loopback port, with a handle on its event loop so a
    test can append and publish exactly as the run manager does; on both backends (``location``).
    Function-scoped: each test gets a fresh hub (``live_server`` is session-wide and exposes
    no loop)."""
    store = open_store(location)
    app = create_app(store)
    loops: list[asyncio.AbstractEventLoop] = []

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            loops.append(asyncio.get_running_loop())
        await app(scope, receive, send)

    config = uvicorn.Config(asgi, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    owner = create_key(store, TENANT, "owner")[1]
    try:
        yield StreamServer(app, store, loops[0], port, owner)
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()


def new_branch(server: StreamServer, tenant: str = TENANT) -> str:
    scenario = server.store.create_scenario("stream test", {"name": "t"}, tenant_id=tenant)
    return server.store.create_branch(scenario.id, seed=1, tenant_id=tenant).id


@dataclass(frozen=True, slots=True)
class Published:
    published: float  # perf_counter when publish_events was called (the append had returned)
    publish_cost: float  # how long publish_events took


async def publish_run(
    app: FastAPI,
    branch_id: str,
    *,
    steps: int,
    per_step: int,
    first_step: int = 0,
    delay: float = 0.0,
    pad: int = 0,
) -> dict[int, Published]:
    """What the run manager does for a run: append each step, publish it right after the
    append returned, publish status changes. Runs in the server's loop."""
    store: SqlStore = app.state.store
    hub: EventHub = app.state.hub
    times: dict[int, Published] = {}
    hub.publish_status(branch_id, "running")
    for step in range(first_step, first_step + steps):
        batch = [
            NewEvent(step, EventKind.MESSAGE, {"i": i, "pad": secrets.token_hex(pad // 2)}, f"a{i}")
            for i in range(per_step)
        ]
        events = await store.append_async(branch_id, batch)
        start = time.perf_counter()
        hub.publish_events(branch_id, events)
        cost = time.perf_counter() - start
        for event in events:
            times[event.seq] = Published(start, cost)
        if delay:
            await asyncio.sleep(delay)
    await asyncio.to_thread(store.set_status, branch_id, BranchStatus.DONE)
    hub.publish_status(branch_id, "done")
    return times


@dataclass
class Received:
    seqs: list[int] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    stamps: dict[int, float] = field(default_factory=dict)
    statuses: list[str] = field(default_factory=list)
    resyncs: list[int] = field(default_factory=list)
    resync_at: list[int] = field(default_factory=list)  # index in seqs of the next event
    pings: int = 0


async def collect(
    ws: ClientConnection,
    *,
    until_seq: int | None = None,
    until_status: str | None = None,
    stamp: bool = False,
    full: bool = False,
    abort_at: int | None = None,
    timeout: float = 30.0,
) -> Received:
    """Read messages until ``until_seq`` (or ``until_status``) arrived; answer pings. With
    ``abort_at``, drop the TCP connection right after receiving that seq."""
    got = Received()
    async with asyncio.timeout(timeout):
        while True:
            raw = await ws.recv()
            now = time.perf_counter()
            message = json.loads(raw)
            kind = message["type"]
            if kind == "event":
                seq = message["event"]["seq"]
                got.seqs.append(seq)
                if stamp:
                    got.stamps[seq] = now
                if full:
                    got.events.append(message["event"])
                if seq == abort_at:
                    ws.transport.abort()
                    return got
                if seq == until_seq:
                    return got
            elif kind == "status":
                got.statuses.append(message["status"])
                if message["status"] == until_status:
                    return got
            elif kind == "resync":
                got.resyncs.append(message["from_seq"])
                got.resync_at.append(len(got.seqs))
            elif kind == "ping":
                got.pings += 1
                await ws.send(json.dumps({"type": "pong"}))
            else:
                raise AssertionError(f"unexpected message {message}")


async def collect_resuming(
    server: StreamServer, branch_id: str, *, until_seq: int, cuts: list[int]
) -> list[int]:
    """Stream ``1..until_seq``, aborting the connection right after each seq in ``cuts`` and
    reconnecting with ``from_seq = last received + 1``. Returns every seq received."""
    received: list[int] = []
    pending = sorted(set(cuts))
    while not received or received[-1] < until_seq:
        from_seq = received[-1] + 1 if received else 1
        while pending and pending[0] < from_seq:
            pending.pop(0)
        abort_at = pending.pop(0) if pending else None
        ws = await connect(server.ws_url(branch_id, from_seq=from_seq), proxy=None)
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello" and hello["from_seq"] == from_seq
        got = await collect(ws, until_seq=until_seq, abort_at=abort_at)
        if abort_at is None:
            await ws.close()
        received.extend(got.seqs)
    return received
