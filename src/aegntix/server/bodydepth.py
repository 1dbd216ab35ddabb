"""Refuse JSON request bodies nested past ``MAX_DEPTH`` before anything parses them.

``json.loads`` recurses once per level: a body of thousands of ``[`` would end in a
``RecursionError`` (a 400 with no reason, or a 500 further in). This pure ASGI middleware
sees the whole body (at most the size limit, enforced outside it) before the app does and
answers 422 naming the limit.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aegntix.model.parsing import json_too_deep
from aegntix.model.text import MAX_DEPTH
from aegntix.server.problems import MEDIA_TYPE, problem_body


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replaying() -> Message:
        return pending.pop(0) if pending else await receive()

    return replaying


def _is_json(scope: Scope) -> bool:
    ctype: bytes = dict(scope.get("headers") or ()).get(b"content-type", b"")
    media = ctype.split(b";")[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


class JsonDepthLimit:
    def __init__(self, app: ASGIApp, max_depth: int = MAX_DEPTH) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        # Read the whole body first (the size limit outside bounds it), then replay it.
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if json_too_deep(body.decode("utf-8", "replace")):
            await self._refuse(send)
            return
        replayed: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([replayed], receive), send)

    async def _refuse(self, send: Send) -> None:
        reason = f"nested deeper than {self.max_depth} levels"
        body = json.dumps(
            problem_body(
                422,
                f"body: {reason}",
                slug="validation",
                errors=[{"field": "body", "reason": reason}],
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 422,
                "headers": [
                    (b"content-type", MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
