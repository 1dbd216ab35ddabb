"""``WS /v1/rollouts/{id}/stream`` over a real server on loopback with a real WebSocket
client: hello, progress of the set and its control, settled, close codes; bursts of member
completions are coalesced into one frame."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from aegntix.server.rollout_stream import Phase, Progress, ProgressBoard, board_of
from aegntix.server.stream import StreamConfig
from tests.server.api_support import create, run_to_end
from tests.server.conftest import LiveServer, serving
from tests.server.test_stream_support import StreamServer, stream_server

__all__ = ["stream_server"]  # the fixture, re-exported so pytest finds it here

NEWS = {"content": "The river flooded the car park.", "fields": {"stance": 0.9}}


def _url(base: str, set_id: str, key: str | None) -> str:
    query = f"?api_key={key}" if key else ""
    return f"{base}/v1/rollouts/{set_id}/stream{query}"


async def _read_all(ws: ClientConnection, timeout: float = 60) -> tuple[list[dict[str, Any]], int]:
    """Every message until the server closes (pings answered); and the close code."""
    messages: list[dict[str, Any]] = []
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                messages.append(message)
    assert closed.value.rcvd is not None
    return messages, closed.value.rcvd.code


def _wait_idle(client: httpx.Client, set_id: str) -> None:
    deadline = time.monotonic() + 60
    while client.get(f"/v1/rollouts/{set_id}").json()["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.fixture(scope="module")
def town(live_server: LiveServer) -> tuple[httpx.Client, str, str]:
    key = live_server.make_key("rollout-stream", "editor")
    client = live_server.client(key)
    root = create(client, "town-hall")["root_branch"]
    run_to_end(client, root["id"], steps=3)
    return client, root["id"], key


async def test_progress_streams_until_the_set_settles(
    live_server: LiveServer, town: tuple[httpx.Client, str, str]
) -> None:
    client, root, key = town
    r = client.post(f"/v1/branches/{root}/rollouts", json={"at_step": 2, "n": 8, "injection": NEWS})
    assert r.status_code == 202, r.text
    made = r.json()
    assert made["running"] is True and made["progress"] == {"done": 0, "total": 8}

    async with connect(_url(live_server.ws_url, made["id"][:8], key), proxy=None) as ws:
        messages, code = await _read_all(ws)
    assert code == 1000
    hello, *middle, settled = [m for m in messages if m["type"] != "ping"]
    assert hello["type"] == "hello" and hello["set"]["id"] == made["id"]
    assert hello["control"]["id"] == made["control_id"] and hello["set"]["n"] == 8
    assert settled["type"] == "settled"
    for record in (settled["set"], settled["control"]):
        assert record["status"] == "done" and not record["running"]
        assert record["progress"] == {"done": 8, "total": 8} and record["error"] is None
    assert {m["type"] for m in middle} <= {"progress"}
    for role in ("set", "control"):  # counts only grow
        seen = [m[role] for m in middle if m[role] is not None]
        assert all(p["total"] == 8 and 0 <= p["done"] <= p["forked"] <= 8 for p in seen)
        steps = [p["step"] for p in seen if p["step"] is not None]
        assert all(2 < x <= 12 for x in steps)  # forked after step 2, the town hall ends by 12
        dones = [p["done"] for p in seen]
        assert dones == sorted(dones)


async def test_a_settled_set_gets_hello_then_settled(
    live_server: LiveServer, town: tuple[httpx.Client, str, str]
) -> None:
    client, root, key = town
    made = client.post(f"/v1/branches/{root}/rollouts", json={"at_step": 1, "n": 2}).json()
    _wait_idle(client, made["id"])
    async with connect(_url(live_server.ws_url, made["id"], key), proxy=None) as ws:
        messages, code = await _read_all(ws)
    assert code == 1000 and [m["type"] for m in messages] == ["hello", "settled"]
    assert messages[1]["set"]["status"] == "done" and messages[1]["control"] is None


async def test_refusals_close_with_codes(
    live_server: LiveServer, town: tuple[httpx.Client, str, str]
) -> None:
    client, root, key = town
    made = client.post(f"/v1/branches/{root}/rollouts", json={"at_step": 1, "n": 1}).json()
    _wait_idle(client, made["id"])
    stranger = live_server.make_key("rollout-stream-other", "viewer")
    cases = [
        (None, made["id"], 4401),
        ("agx_not_a_key", made["id"], 4401),
        (stranger, made["id"], 4404),  # another tenant's set: the same as none
        (key, "ffffffffffff", 4404),
    ]
    for who, set_id, expected in cases:
        async with connect(_url(live_server.ws_url, set_id, who), proxy=None) as ws:
            messages, code = await _read_all(ws, timeout=10)
        assert (code, messages) == (expected, []), (who, set_id)


async def test_a_burst_of_completions_is_one_frame(stream_server: StreamServer) -> None:
    """A thousand members finishing between two frames reach the client as the last count,
    not as a thousand messages."""
    base = f"http://127.0.0.1:{stream_server.port}"
    with httpx.Client(base_url=base, headers={"X-API-Key": stream_server.owner_key}) as client:
        root = create(client, "town-hall")["root_branch"]["id"]
        made = client.post(f"/v1/branches/{root}/rollouts", json={"at_step": 0, "n": 1}).json()
        _wait_idle(client, made["id"])
    board = board_of(stream_server.app)
    set_id = made["id"]

    async def begin() -> None:  # the set runs again (as on `continue` of 1,000 members)
        board.begin(set_id, done=0, total=1000, forked=1000)

    async def burst(until: int, settle: bool) -> None:
        for done in range(1, until + 1):  # no await in between: one event-loop turn
            board.running(set_id, done, 1000)
        if settle:
            board.settle(set_id)

    await stream_server.start(begin())
    url = _url(f"ws://127.0.0.1:{stream_server.port}", set_id, stream_server.owner_key)
    async with connect(url, proxy=None) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello" and hello["set"]["running"] is True
        await stream_server.start(burst(1000, settle=False))
        frame = json.loads(await ws.recv())
        assert frame["type"] == "progress" and frame["set"]["done"] == 1000
        await stream_server.start(burst(1000, settle=True))
        messages, code = await _read_all(ws)
    assert code == 1000 and [m["type"] for m in messages] == ["settled"]
    assert board.watcher_count() == 0


class GatedForks:
    """A store whose forks wait until the test opens the gate (everything else passes)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.gate = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def fork(self, *args: Any, **kwargs: Any) -> Any:
        assert self.gate.wait(30), "the test never opened the gate"
        return self._inner.fork(*args, **kwargs)


async def test_the_post_answers_before_any_member_is_forked(tmp_path: Path) -> None:
    gated: list[GatedForks] = []

    def wrap(store: Any) -> GatedForks:
        gated.append(GatedForks(store))
        return gated[0]

    with serving(tmp_path, wrap) as server:
        client = server.client(server.owner_key)
        root = create(client, "town-hall")["root_branch"]["id"]
        r = client.post(f"/v1/branches/{root}/rollouts", json={"at_step": 0, "n": 3})
        assert r.status_code == 202, r.text  # no fork has happened: the gate is closed
        made = r.json()
        assert client.get(f"/v1/rollouts/{made['id']}/members").json() == []
        url = _url(server.ws_url, made["id"], server.owner_key)
        async with connect(url, proxy=None) as ws:
            hello = json.loads(await ws.recv())
            assert hello["set"]["running"] and hello["set"]["progress"]["done"] == 0
            gated[0].gate.set()
            messages, code = await _read_all(ws)
        assert code == 1000 and messages[-1]["type"] == "settled"
        assert messages[-1]["set"]["progress"] == {"done": 3, "total": 3}
        forked = [m["set"]["forked"] for m in messages if m["type"] == "progress"]
        assert forked == sorted(forked)


async def test_pings_and_a_silent_client_is_closed(stream_server: StreamServer) -> None:
    """While a set runs the server pings; a client that never answers is closed with 4408."""
    stream_server.app.state.stream_config = StreamConfig(ping_interval=0.2, idle_timeout=0.8)
    base = f"http://127.0.0.1:{stream_server.port}"
    with httpx.Client(base_url=base, headers={"X-API-Key": stream_server.owner_key}) as client:
        root = create(client, "town-hall")["root_branch"]["id"]
        made = client.post(f"/v1/branches/{root}/rollouts", json={"at_step": 0, "n": 1}).json()
        _wait_idle(client, made["id"])
    board = board_of(stream_server.app)

    async def begin() -> None:  # running, and nothing changes
        board.begin(made["id"], done=0, total=1, forked=1)

    await stream_server.start(begin())
    url = _url(f"ws://127.0.0.1:{stream_server.port}", made["id"], stream_server.owner_key)
    async with connect(url, proxy=None) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello"
        pings = 0
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                while True:  # read, never answer
                    pings += json.loads(await ws.recv())["type"] == "ping"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408
    assert pings >= 2
    await stream_server.start(_settle(board, made["id"]))


async def _settle(board: Any, set_id: str) -> None:
    board.settle(set_id)


def test_a_mirror_never_overrides_the_replicas_own_counts() -> None:
    """Counts read from the database (another replica drives the set) fill the board, but a
    set this replica drives keeps its own live counts; a forgotten mirror leaves nothing."""
    board = ProgressBoard()
    board.mirror("s", done=1, total=4, forked=4, step=2.0)
    assert board.is_running("s") and board.get("s") == Progress(Phase.RUNNING, 1, 4, 4, 2.0)
    board.unmirror("s", settled=False)  # its last client left
    assert board.get("s") is None and not board.is_running("s")

    board.begin("s", done=0, total=4, forked=2)  # now driven here
    board.mirror("s", done=3, total=4, forked=4, step=5.0)
    assert board.get("s") == Progress(Phase.FORKING, 0, 4, 2)
    board.unmirror("s", settled=True)  # not a mirror: untouched
    assert board.is_running("s")
    board.settle("s")

    board.mirror("s", done=2, total=4, forked=4, step=None)  # settled here, driven elsewhere
    board.unmirror("s", settled=True)  # the driver let go
    assert board.get("s") == Progress(Phase.SETTLED, 2, 4, 4)
