"""Authentication (API keys) and authorization (roles) for HTTP and WebSocket requests.

A key comes in ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` (WebSocket clients,
which cannot always set headers, may also use the ``api_key`` query parameter).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import Depends, FastAPI, Request, WebSocket
from starlette.datastructures import Headers
from structlog.contextvars import bind_contextvars

from aegntix.security.keys import authenticate, cached_principal
from aegntix.security.roles import Action, Principal
from aegntix.server.problems import Problem

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="aegntix"'}


def _key_from_headers(headers: Headers) -> str | None:
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


async def _principal(app: FastAPI, key: str) -> Principal | None:
    # A cache hit is a dict lookup, on the loop; a miss reads the key row in a worker thread
    # (on PostgreSQL a few round trips, which on the loop stalled every stream of the replica).
    principal = cached_principal(app.state.store, key)
    if principal is None:
        principal = await asyncio.to_thread(authenticate, app.state.store, key)
    if principal is not None:  # every later log line of this request names the tenant
        bind_contextvars(tenant_id=principal.tenant_id)
    return principal


async def principal_from_request(request: Request) -> Principal:
    """FastAPI dependency: the caller's principal, or a 401 problem."""
    return await principal_from_headers(request.app, request.headers)


async def principal_from_headers(app: FastAPI, headers: Headers) -> Principal:
    """The principal of the key in ``headers`` (as for any HTTP request), or a 401 problem;
    also what ``/mcp`` authenticates with."""
    key = _key_from_headers(headers)
    if key is None:
        raise Problem(
            401,
            "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            slug="unauthorized",
            headers=_CHALLENGE,
        )
    principal = await _principal(app, key)
    if principal is None:
        raise Problem(
            401, "the API key is invalid or revoked", slug="unauthorized", headers=_CHALLENGE
        )
    return principal


async def principal_from_websocket(websocket: WebSocket) -> Principal | None:
    """The principal of a WebSocket client (``api_key`` query parameter, or the same headers
    as HTTP); None when missing or invalid (the caller closes with code 4401)."""
    key = websocket.query_params.get("api_key") or _key_from_headers(websocket.headers)
    if not key:
        return None
    return await _principal(websocket.app, key)


def require(action: Action) -> Callable[..., Awaitable[Principal]]:
    """Dependency factory: the principal, if its role may do ``action``; else 403."""

    async def dependency(
        principal: Principal = Depends(principal_from_request),  # noqa: B008
    ) -> Principal:
        check_role(principal, action)
        return principal

    return dependency


def check_role(principal: Principal, action: Action) -> None:
    """A 403 problem unless the principal's role may do ``action`` (REST and MCP tools)."""
    if not principal.role.can(action):
        raise Problem(
            403,
            f"role '{principal.role.value}' may not {action.value.replace('_', ' ')}",
            slug="forbidden",
        )
