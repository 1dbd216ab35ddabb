"""uvicorn's WebSocket protocol, with each connection's writes of one loop turn sent together.

A stream's writer hands a wake-up's messages to ASGI one by one (a run appends a step's
events together, so a follower gets several at once), and uvicorn writes each frame to the
socket at once: one ``send`` system call per message per client, the biggest single cost of
fanning events out (``docs/streaming.md``). :class:`CoalescingTransport` keeps the frames
written during one event-loop turn and writes them with one call at the end of it — the
same frames, the same bytes in the same order, fewer system calls and TCP segments. What a
client receives does not change; a message leaves at most one loop turn later.

``aegntix serve`` passes :func:`ws_protocol` as uvicorn's ``ws`` (an older uvicorn, without
the sans-I/O protocol, keeps its default).
"""

from __future__ import annotations

import asyncio
import contextlib
from asyncio.transports import BaseTransport, Transport
from typing import Any, cast

try:  # uvicorn 0.35 and later
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover - an older uvicorn: its own protocol, unchanged
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]


class CoalescingTransport:
    """A transport whose writes within one loop turn become one write of the real one.
    Everything else is the real transport's; closing sends what is pending first."""

    __slots__ = ("_loop", "_pending", "_scheduled", "transport")

    def __init__(self, transport: Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self._pending.append(bytes(data))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Write what is pending (called at the end of the loop turn, and before a close)."""
        self._scheduled = False
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        with contextlib.suppress(RuntimeError):  # closed meanwhile (uvloop): the peer is gone
            self.transport.write(data)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self.transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


if WebSocketsSansIOProtocol is not None:

    class CoalescingWebSocketProtocol(WebSocketsSansIOProtocol):
        """uvicorn's sans-I/O WebSocket protocol on a :class:`CoalescingTransport`."""

        def connection_made(self, transport: BaseTransport) -> None:
            super().connection_made(transport)
            real = cast(Transport, transport)
            self.transport = cast(Transport, CoalescingTransport(real, self.loop))


def ws_protocol() -> type[asyncio.Protocol] | str:
    """uvicorn's ``ws`` setting: the coalescing protocol, or ``auto`` on an older uvicorn."""
    if WebSocketsSansIOProtocol is None:  # pragma: no cover
        return "auto"
    return CoalescingWebSocketProtocol
