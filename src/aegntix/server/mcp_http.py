"""``/mcp``: the MCP server over streamable HTTP, inside the API app.

A request is authenticated as every REST request is (``Authorization: Bearer <key>`` or
``X-API-Key``; 401 without a valid key) and its principal handed to the tools in the request
scope. Stateless JSON responses: no session lives in a replica, so any replica answers any
call (DESIGN §7). The session manager is built and run per app lifespan.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from aegntix.server.auth import principal_from_headers
from aegntix.server.mcp import AegntixServer, build_server, http_caller
from aegntix.server.problems import Problem, problem_response

PATH = "/mcp"
#: Where the endpoint puts the caller's principal in the ASGI scope.
PRINCIPAL_KEY = "aegntix.principal"
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def transport_security(host: str) -> TransportSecuritySettings:
    """Which ``Host``/``Origin`` headers ``/mcp`` accepts for a server listening on ``host``:
    loopback names (and ``host`` itself) when it listens on one interface, guarding a local
    server against DNS rebinding; any when it listens on every interface (``0.0.0.0``,
    ``::``), where the API key is the guard and the names clients use are not known."""
    try:
        wildcard = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        wildcard = host == ""
    if wildcard:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    shown = f"[{host}]" if ":" in host else host
    names = dict.fromkeys([*_LOOPBACK, shown])
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{n}:*" for n in names] + list(names),
        allowed_origins=[
            f"{scheme}://{n}{port}"
            for n in names
            for scheme in ("http", "https")
            for port in (":*", "")
        ],
    )


class McpEndpoint:
    """The ASGI app at ``/mcp`` (mounted by ``create_app``; ``running`` in its lifespan)."""

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1") -> None:
        self._app = app
        self._security = transport_security(host)
        self.server: AegntixServer = build_server(app, http_caller(PRINCIPAL_KEY))
        self._http: ASGIApp | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve while inside (a session manager runs once: a fresh one per lifespan)."""
        http = self.server.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            json_response=True,
            transport_security=self._security,
        )
        async with self.server.session_manager.run():
            self._http = http
            try:
                yield
            finally:
                self._http = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http = self._http
        if http is None:
            response = problem_response(503, "the MCP endpoint is not running", slug="unavailable")
            await response(scope, receive, send)
            return
        try:
            principal = await principal_from_headers(self._app, Headers(scope=scope))
        except Problem as exc:
            response = problem_response(
                exc.status, exc.detail, slug=exc.slug, errors=exc.errors, headers=exc.headers
            )
            await response(scope, receive, send)
            return
        await http({**scope, PRINCIPAL_KEY: principal}, receive, send)
