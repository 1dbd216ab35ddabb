"""``aegntix serve``'s WebSocket transport: the frames one connection writes in one loop turn
go out in one write, byte for byte and in order; closing sends what is pending first; a
client over a real socket gets every message, in order, then the close code."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from aegntix.server.wsproto import CoalescingTransport, ws_protocol


class _Recorder:
    """A transport that records what reaches it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def close(self) -> None:
        self.calls.append(("close", None))

    def abort(self) -> None:
        self.calls.append(("abort", None))

    def get_write_buffer_size(self) -> int:
        return 7


def test_writes_of_one_turn_become_one_write_in_order() -> None:
    async def scenario() -> _Recorder:
        real = _Recorder()
        transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        for i in range(5):
            transport.write(f"frame {i};".encode())
        transport.write(b"")  # nothing to send: no write
        assert real.calls == []  # nothing before the turn ends
        await asyncio.sleep(0)
        transport.write(b"next turn")
        await asyncio.sleep(0)
        assert transport.get_write_buffer_size() == 7  # the rest is the real transport's
        return real

    real = asyncio.run(scenario())
    assert real.calls == [
        ("write", b"frame 0;frame 1;frame 2;frame 3;frame 4;"),
        ("write", b"next turn"),
    ]


def test_close_sends_what_is_pending_first_and_abort_drops_it() -> None:
    async def scenario() -> tuple[_Recorder, _Recorder]:
        loop = asyncio.get_running_loop()
        closed, aborted = _Recorder(), _Recorder()
        one = CoalescingTransport(closed, loop)  # type: ignore[arg-type]
        one.write(b"last frame")
        one.write(b"close frame")
        one.close()
        two = CoalescingTransport(aborted, loop)  # type: ignore[arg-type]
        two.write(b"never sent")
        two.abort()
        await asyncio.sleep(0)  # the scheduled flushes find nothing
        return closed, aborted

    closed, aborted = asyncio.run(scenario())
    assert closed.calls == [("write", b"last frameclose frame"), ("close", None)]
    assert aborted.calls == [("abort", None)]


async def _burst(websocket: WebSocket) -> None:
    """200 messages as fast as they can be handed over, a pause, 200 more, then close."""
    await websocket.accept()
    for n in range(200):
        await websocket.send_text(f'{{"n":{n},"pad":"{"é" * (n % 50)}"}}')
    await asyncio.sleep(0.05)
    for n in range(200, 400):
        await websocket.send_text(f'{{"n":{n}}}')
    await websocket.close(4321, "done")


def test_a_client_gets_every_message_in_order_then_the_close() -> None:
    app = Starlette(routes=[WebSocketRoute("/burst", _burst)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ws=ws_protocol())
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)

    async def follow() -> tuple[list[str], int | None]:
        got: list[str] = []
        async with connect(f"ws://127.0.0.1:{port}/burst", proxy=None) as ws:
            try:
                while True:
                    got.append(str(await ws.recv()))
            except ConnectionClosed as closed:
                return got, None if closed.rcvd is None else closed.rcvd.code
        return got, None

    try:
        got, code = asyncio.run(follow())
    finally:
        server.should_exit = True
        thread.join(10)
    expected = [f'{{"n":{n},"pad":"{"é" * (n % 50)}"}}' for n in range(200)]
    expected += [f'{{"n":{n}}}' for n in range(200, 400)]
    assert got == expected
    assert code == 4321
