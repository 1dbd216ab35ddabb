"""Request body size limit (pure ASGI, so it sees the bytes before anything buffers them).

A body declared too big (``Content-Length``) is answered 413 at once, before anything reads
it; a streamed one (chunked, no length) is counted while the app reads it and refused once
past the limit. Either way the rest of the body is then read and dropped (for at most
``DRAIN_SECONDS``) before the connection closes: closing a socket with unread data makes the
kernel reset it, and the client — still uploading — would see a broken pipe instead of the
413. A client that sent ``Expect: 100-continue`` is answered without being asked for the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aegntix.server.problems import MEDIA_TYPE, Problem, problem_body

MAX_BODY_BYTES = 1_000_000
#: How long the rest of a refused body is read (and dropped) before the connection closes.
DRAIN_SECONDS = 10.0


def _detail(limit: int) -> str:
    return f"the request body is larger than {limit:,} bytes"


def _errors(limit: int) -> list[dict[str, str]]:
    return [{"field": "body", "reason": f"at most {limit:,} bytes"}]


class _TooLarge(Problem, HTTPException):  # type: ignore[misc]  # headers: dict vs Mapping
    """Raised from ``receive`` past the limit. An HTTPException so FastAPI's body parsing
    re-raises it as is (not as a 400); a Problem so the app's problem handler answers it
    (first in its MRO) with the field and the limit."""

    def __init__(self, limit: int) -> None:
        HTTPException.__init__(self, 413, _detail(limit))
        self.args = (self.detail,)
        self.status = 413
        self.slug = "content-too-large"
        self.errors = _errors(limit)
        self.headers = {}


async def _drain(receive: Receive, seconds: float) -> None:
    """Read and drop the rest of the request body (until its end, a disconnect or timeout)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return


class BodySizeLimit:
    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, drain_seconds: float = DRAIN_SECONDS
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.drain_seconds = drain_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                too_big = False
            if too_big:
                expects = headers.get(b"expect", b"").lower() == b"100-continue"
                await self._refuse(send, None if expects else receive)
                return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    if message.get("more_body", False):
                        await _drain(receive, self.drain_seconds)
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send, None)

    async def _refuse(self, send: Send, drain: Receive | None) -> None:
        """The 413 problem; with ``drain``, the body is read (and dropped) after the answer
        has been sent and before it ends, so the client can read it either way."""
        body = json.dumps(
            problem_body(
                413,
                _detail(self.max_bytes),
                slug="content-too-large",
                errors=_errors(self.max_bytes),
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": drain is not None})
        if drain is not None:
            await _drain(drain, self.drain_seconds)
            await send({"type": "http.response.body", "body": b""})
