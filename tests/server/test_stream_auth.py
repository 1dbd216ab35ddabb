"""The branch stream's edges: authentication and tenancy (close codes), a real run through
the REST API, and heartbeats closing silent and dead peers."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid

import psycopg
import pytest
from psycopg import sql
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from aegntix.security.roles import Role
from aegntix.server.stream import StreamConfig, stream_config
from tests.postgres import SessionDatabase, _admin_url
from tests.server.conftest import LiveServer
from tests.server.test_stream_support import (
    StreamServer,
    collect,
    new_branch,
    stream_server,
)
from tests.support import EXAMPLES

__all__ = ["stream_server"]  # the fixture, re-exported so pytest finds it here

TERMINAL = {"done", "failed", "paused", "idle"}


def _url(server: LiveServer, branch: str, query: str = "") -> str:
    return f"{server.ws_url}/v1/branches/{branch}/stream{query}"


async def _close_of(ws: ClientConnection) -> tuple[int, str]:
    """Read until the server closes; the close code and reason it sent."""
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(10):
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


def _scenario_and_branch(server: LiveServer, key: str) -> str:
    with server.client(key) as http:
        body = (EXAMPLES / "town-hall.yaml").read_bytes()
        created = http.post("/v1/scenarios", content=body, headers={"content-type": "text/yaml"})
        assert created.status_code == 201, created.text
        branch_id: str = created.json()["root_branch"]["id"]
        return branch_id


async def test_a_real_run_streams_live_in_order(live_server: LiveServer) -> None:
    key = live_server.make_key("stream-run", "editor")
    branch = _scenario_and_branch(live_server, key)
    async with connect(_url(live_server, branch, f"?api_key={key}"), proxy=None) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello" and hello["from_seq"] == 1
        with live_server.client(key) as http:
            started = http.post(f"/v1/branches/{branch}/run")
            assert started.status_code == 202, started.text
        got = await collect(ws, until_status="done", full=True)
    assert got.statuses[0] == "running" and got.statuses[-1] == "done"
    assert got.seqs == list(range(1, len(got.seqs) + 1))  # backlog (step 0), then live
    assert hello["head_seq"] < len(got.seqs)  # most of them arrived live
    with live_server.client(key) as http:
        head = http.get(f"/v1/branches/{branch}").json()["head_seq"]
    assert got.seqs[-1] == head
    steps = [e["step"] for e in got.events]
    assert steps == sorted(steps) and steps[-1] > 1


async def test_without_a_valid_key_the_stream_closes_4401(live_server: LiveServer) -> None:
    branch = _scenario_and_branch(live_server, live_server.make_key("stream", "editor"))
    for query in ("", "?api_key=agx_nope_nope", "?api_key="):
        async with connect(_url(live_server, branch, query), proxy=None) as ws:
            code, _ = await _close_of(ws)
        assert code == 4401, query


async def test_a_bearer_header_authenticates_too(live_server: LiveServer) -> None:
    key = live_server.make_key("stream-hdr", "viewer")
    branch = _scenario_and_branch(live_server, live_server.make_key("stream-hdr", "editor"))
    headers = {"Authorization": f"Bearer {key}"}
    async with connect(_url(live_server, branch), proxy=None, additional_headers=headers) as ws:
        hello = json.loads(await ws.recv())
    assert hello["type"] == "hello" and hello["branch_id"] == branch


async def test_a_foreign_branch_answers_like_a_missing_one(live_server: LiveServer) -> None:
    mine = _scenario_and_branch(live_server, live_server.make_key("stream-a", "editor"))
    intruder = live_server.make_key("stream-b", "owner")
    closes = []
    for branch in (mine, uuid.uuid4().hex, "not-even-an-id"):
        async with connect(_url(live_server, branch, f"?api_key={intruder}"), proxy=None) as ws:
            closes.append(await _close_of(ws))
    assert closes[0][0] == 4404
    assert len(set(closes)) == 1  # same code, same reason: nothing tells them apart


async def test_an_id_prefix_streams_its_branch_and_a_foreign_prefix_is_missing(
    live_server: LiveServer,
) -> None:
    key = live_server.make_key("stream-prefix", "editor")
    branch = _scenario_and_branch(live_server, key)
    async with connect(_url(live_server, branch[:8], f"?api_key={key}"), proxy=None) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello" and hello["branch_id"] == branch  # the full id
        first = json.loads(await ws.recv())
        assert first["type"] == "event" and first["event"]["seq"] == 1
    intruder = live_server.make_key("stream-prefix-b", "owner")
    for ref in (branch, branch[:8], "é" * 16):
        async with connect(_url(live_server, ref, f"?api_key={intruder}"), proxy=None) as ws:
            assert await _close_of(ws) == (4404, "no such branch"), ref


async def test_a_bad_from_seq_closes_4400(live_server: LiveServer) -> None:
    key = live_server.make_key("stream", "editor")
    branch = _scenario_and_branch(live_server, key)
    for value in ("0", "-3", "x", "1.5", "1_0", "+2", "99999999999999999999"):
        query = f"?api_key={key}&from_seq={value}"
        async with connect(_url(live_server, branch, query), proxy=None) as ws:
            code, _ = await _close_of(ws)
        assert code == 4400, value
    for value in ("2", "yes", ""):
        query = f"?api_key={key}&batch={value}"
        async with connect(_url(live_server, branch, query), proxy=None) as ws:
            code, _ = await _close_of(ws)
        assert code == 4400, value


async def test_a_role_that_may_not_read_closes_4403(
    stream_server: StreamServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    branch = new_branch(stream_server)
    monkeypatch.setattr(Role, "can", lambda self, action: False)  # no real role lacks READ
    async with connect(stream_server.ws_url(branch), proxy=None) as ws:
        code, _ = await _close_of(ws)
    assert code == 4403


# -- heartbeats -------------------------------------------------------------------------------
FAST_BEAT = StreamConfig(ping_interval=0.2, idle_timeout=0.8)


def test_heartbeat_settings_come_from_the_app_or_the_environment(
    stream_server: StreamServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = stream_server.app
    assert stream_config(app) == StreamConfig()
    monkeypatch.setenv("AEGNTIX_WS_PING_INTERVAL", "2.5")
    monkeypatch.setenv("AEGNTIX_WS_IDLE_TIMEOUT", "nan")  # ignored: not a positive number
    assert stream_config(app) == StreamConfig(ping_interval=2.5)
    app.state.stream_config = FAST_BEAT
    assert stream_config(app) is FAST_BEAT


async def test_a_client_answering_pings_stays_connected(stream_server: StreamServer) -> None:
    stream_server.app.state.stream_config = FAST_BEAT
    branch = new_branch(stream_server)
    async with connect(stream_server.ws_url(branch), proxy=None) as ws:
        await ws.recv()
        with pytest.raises(TimeoutError):
            await collect(ws, until_seq=1, timeout=2.0)  # nothing but pings for 2 s
        await ws.send(json.dumps({"type": "pong"}))
        assert stream_server.hub.subscriber_count(branch) == 1
        ping = json.loads(await asyncio.wait_for(ws.recv(), 1))
    assert ping["type"] == "ping" and ping["t"] == pytest.approx(time.time(), abs=5)


async def test_a_silent_client_is_closed_4408(stream_server: StreamServer) -> None:
    stream_server.app.state.stream_config = FAST_BEAT
    branch = new_branch(stream_server)
    async with connect(stream_server.ws_url(branch), proxy=None) as ws:
        start = time.monotonic()
        code, _ = await _close_of(ws)  # reads pings, never answers
    assert code == 4408
    assert 0.7 < time.monotonic() - start < 5
    assert stream_server.hub.subscriber_count(branch) == 0


def test_a_dead_peer_is_dropped(stream_server: StreamServer) -> None:
    """A peer that completes the handshake and then neither reads nor writes (a frozen
    process, a vanished host): the server unsubscribes it and sends close 4408."""
    stream_server.app.state.stream_config = FAST_BEAT
    branch = new_branch(stream_server)
    # The server's idle clock starts after the handshake, so this is a lower bound on it.
    # (Timing from when this thread first saw the subscription raced: under load it polls
    # late, and the span it measured came out shorter than the server's.)
    connecting = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", stream_server.port))
    path = stream_server.ws_url(branch).split(str(stream_server.port), 1)[1]
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    hub = stream_server.hub
    deadline = time.monotonic() + 10  # bounds the waits only
    while hub.subscriber_count(branch) == 0:
        assert time.monotonic() < deadline, "never subscribed"
        time.sleep(0.01)
    while hub.subscriber_count(branch) == 1:
        assert time.monotonic() < deadline + 10, "a dead peer was kept"
        time.sleep(0.02)
    assert time.monotonic() - connecting > 0.7  # not before the idle timeout (0.8 s)
    sock.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data or _close_code(data) is None:
        chunk = sock.recv(65536)
        assert chunk, "closed without a close frame"
        data += chunk
    sock.close()
    assert data.startswith(b"HTTP/1.1 101")
    assert _close_code(data) == 4408


def _close_code(data: bytes) -> int | None:
    """The code of the first close frame in a server's (unmasked) byte stream, if complete."""
    frames = data.split(b"\r\n\r\n", 1)[1]
    i = 0
    while i + 2 <= len(frames):
        opcode, length = frames[i] & 0x0F, frames[i + 1] & 0x7F
        i += 2
        if length == 126:
            length, i = int.from_bytes(frames[i : i + 2], "big"), i + 2
        elif length == 127:
            length, i = int.from_bytes(frames[i : i + 8], "big"), i + 8
        if i + length > len(frames):
            return None
        if opcode == 0x8:
            return int.from_bytes(frames[i : i + 2], "big")
        i += length
    return None


async def test_a_database_that_cannot_answer_closes_1013(
    stream_server: StreamServer, request: pytest.FixtureRequest
) -> None:
    """After the handshake no HTTP error can be sent: a store that cannot answer (here
    PostgreSQL refusing new connections) closes the stream with 1013, try again later."""
    server = stream_server
    if server.store.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL is the store that can refuse connections here")
    pg_database: SessionDatabase = request.getfixturevalue("pg_database")
    branch = new_branch(server)
    async with connect(server.ws_url(branch), proxy=None) as ws:  # the key is now cached
        assert json.loads(await ws.recv())["type"] == "hello"
    admin = _admin_url()
    refuse = sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}")
    name = sql.Identifier(pg_database.name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(refuse.format(name, sql.SQL("false")))
    try:
        server.store.engine.dispose()  # the pool's open connections gone: it must connect
        async with connect(server.ws_url(branch), proxy=None) as ws:
            code, reason = await _close_of(ws)
        assert code == 1013 and "reconnect" in reason
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(refuse.format(name, sql.SQL("true")))
