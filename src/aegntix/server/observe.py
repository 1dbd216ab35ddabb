"""The API's side of operations: ``GET /metrics`` and the request middleware (request id,
latency by route template, WebSocket clients, an access log line).

``/metrics`` is not under ``/v1`` and takes no API key: API keys belong to tenants, metrics
to the operator. Who may read it is decided in ``observability/serving.py``
(``AEGNTIX_METRICS_TOKEN``, else loopback clients only).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aegntix.observability import metrics
from aegntix.observability.logs import bound
from aegntix.observability.serving import denial, may_scrape
from aegntix.server.problems import Problem

router = APIRouter()
log = structlog.get_logger("aegntix.server.access")

REQUEST_ID_HEADER = "x-request-id"
#: A client's own request id is kept when it is this tame (else we mint one): it lands in
#: log lines, so no spaces, quotes or control characters.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@router.get("/metrics", include_in_schema=False)
async def scrape(request: Request) -> Response:
    """Prometheus text format of this process's metrics (``docs/observability.md``)."""
    token: str | None = request.app.state.metrics_token
    peer = request.client.host if request.client is not None else None
    if not may_scrape(request.headers.get("authorization"), peer, token):
        status, reason = denial(token)
        headers = {"WWW-Authenticate": 'Bearer realm="aegntix-metrics"'} if status == 401 else {}
        raise Problem(status, reason, headers=headers)
    # A thread: collectors may read a database (the queue depth) and must not block the loop.
    body = await asyncio.to_thread(generate_latest, metrics.REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def route_of(scope: Scope) -> str:
    """The matched route's template (``/v1/branches/{branch_id}``), never the concrete path:
    a label per id would grow without bound."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "unmatched"
    return str(path) or "static"  # the web UI's mount at "/"


def request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER.encode():
            given = bytes(value).decode("latin-1")
            if SAFE_REQUEST_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


class RequestContext:
    """Outermost middleware: binds ``request_id`` for every log line of the request (the
    auth dependency adds ``tenant_id``), echoes it as ``X-Request-ID``, observes the latency
    by route template and counts open WebSocket connections."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        with bound(request_id=rid):
            if kind == "http":
                await self._http(scope, receive, send, rid)
            else:
                await self._websocket(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        started = time.perf_counter()
        status = 500  # if the app raises before answering, the server answers 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", ()))
                headers.append((REQUEST_ID_HEADER.encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            route = route_of(scope)
            metrics.http_request(scope["method"], route, status, seconds)
            # An embedding app that configured no logging gets no line per request.
            if structlog.is_configured():
                log.info(
                    "request",
                    method=scope["method"],
                    route=route,
                    path=scope.get("path"),
                    status=status,
                    duration_ms=round(seconds * 1000, 3),
                )

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        opened: str | None = None

        async def sending(message: Message) -> None:
            nonlocal opened
            await send(message)
            if message["type"] == "websocket.accept" and opened is None:
                opened = route_of(scope)
                metrics.websocket_opened(opened)

        try:
            await self.app(scope, receive, sending)
        finally:
            if opened is not None:
                metrics.websocket_closed(opened)


def install(app: Any, token: str | None) -> None:
    """Add ``/metrics`` (before the web UI's catch-all mount) and the middleware."""
    app.state.metrics_token = token
    app.include_router(router)
    app.add_middleware(RequestContext)  # added last: outermost, so it times everything
