"""The FastAPI application: REST under ``/v1``, the WebSocket stream, the MCP server at
``/mcp``, the static web UI."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.routing import Route

from aegntix import __version__
from aegntix.observability.serving import metrics_token as env_metrics_token
from aegntix.security.keys import ensure_bootstrap_key
from aegntix.security.roles import Action
from aegntix.server import observe, problems
from aegntix.server.bodydepth import JsonDepthLimit
from aegntix.server.deps import Reader
from aegntix.server.hub import EventHub
from aegntix.server.limits import MAX_BODY_BYTES, BodySizeLimit
from aegntix.server.mcp_http import PATH as MCP_PATH
from aegntix.server.mcp_http import McpEndpoint
from aegntix.server.routes import (
    agents,
    branches,
    keys,
    meta,
    metrics,
    rollouts,
    scenarios,
    swarm,
    tools,
)
from aegntix.server.runs import RunManager
from aegntix.server.schemas import Health, Me
from aegntix.timeline.bus import LocalBus
from aegntix.timeline.sqlstore import SqlStore
from aegntix.workers.executor import Executor

STATIC_DIR = Path(__file__).with_name("static")
#: Operations anyone may call (no API key).
PUBLIC_PATHS = frozenset({"/v1/health"})
#: Where the API docs' scripts and styles are served from (no CDN: /docs works offline).
DOCS_ASSETS = "/docs/assets"


def _optional_module(name: str) -> Any:
    """The module, or None if it does not exist (yet); a broken module still raises."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {})
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "agx_… API key"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    for path, item in schema.get("paths", {}).items():
        if path in PUBLIC_PATHS:
            continue
        for operation in item.values():
            if isinstance(operation, dict):
                operation["security"] = [{"bearer": []}, {"apiKey": []}]
    app.openapi_schema = schema
    return schema


def create_app(
    store: SqlStore,
    *,
    bootstrap: bool = False,
    key_file: Path | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    metrics_token: str | None = None,
    queue_db: str | None = None,
    host: str = "127.0.0.1",
) -> FastAPI:
    """The app on ``store`` (owned by the caller, who closes it). ``bootstrap``: if the
    database has no API key yet, mint the owner key of tenant ``default``, save it to
    ``key_file`` (0600) and keep it in ``app.state.bootstrap_key`` so ``serve`` prints it.
    ``metrics_token``: what ``/metrics`` asks for (default ``AEGNTIX_METRICS_TOKEN``; none:
    loopback clients only).

    ``queue_db``: a PostgreSQL URL whose work queue runs the branches (``aegntix worker``
    processes; ``workers/remote.py``); without it they run in this process.

    ``host``: the interface the server listens on; ``/mcp`` accepts the ``Host`` headers that
    name it (any, on ``0.0.0.0``; ``server/mcp_http.py``)."""
    hub = EventHub()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Events reach the hub from the store on commit, whoever wrote them.
        unfollow = hub.follow(store.bus if store.bus is not None else store.publish_to(LocalBus()))
        runs: Executor
        if queue_db is None:
            runs = RunManager(store, hub)
        else:
            from aegntix.workers.remote import QueueExecutor

            runs = await QueueExecutor.open(store, queue_db, hub)
        app.state.runs = runs
        app.state.rollouts = rollouts.RolloutTasks()
        try:
            async with app.state.mcp.running():
                yield
        finally:
            await app.state.rollouts.close()
            await runs.close()
            unfollow()
            hub.close()

    # /docs (Swagger UI) and /redoc from assets that fastapi-offline ships (MIT; Swagger UI
    # is Apache-2.0, ReDoc MIT); no online validator (it would send the schema out).
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        swagger_ui_parameters={"validatorUrl": None},
        title="AegntiX",
        version=__version__,
        description="Reality sandboxes: run multi-agent scenarios, fork the timeline at any "
        "step, inject context, compare the futures. Errors are RFC 9457 problem details. "
        "Authenticate with `Authorization: Bearer <key>` or `X-API-Key`.",
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.hub = hub
    app.state.bootstrap_key = None
    if bootstrap:
        target = key_file if key_file is not None else Path("aegntix.key")
        app.state.bootstrap_key = ensure_bootstrap_key(store, target)

    problems.install(app)
    app.add_middleware(JsonDepthLimit)  # inside the size limit: sees at most that many bytes
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    observe.install(app, metrics_token if metrics_token is not None else env_metrics_token())

    @app.get("/v1/health", response_model=Health, tags=["meta"])
    async def health() -> dict[str, str]:
        """Liveness: no authentication."""
        return {"status": "ok", "version": __version__}

    @app.get("/v1/me", response_model=Me, tags=["meta"])
    async def me(principal: Reader) -> dict[str, Any]:
        """Who the key is: its tenant, role and what the role may do (so a client can offer
        only what will be allowed)."""
        return {
            "tenant_id": principal.tenant_id,
            "role": principal.role.value,
            "key_id": principal.key_id,
            "can": [a.value for a in Action if principal.role.can(a)],
        }

    app.include_router(scenarios.router)
    app.include_router(branches.router)
    app.include_router(keys.router)
    app.include_router(agents.router)
    app.include_router(rollouts.router)
    app.include_router(swarm.router)
    app.include_router(tools.router)
    app.include_router(metrics.router)
    app.include_router(meta.router)
    stream = _optional_module("aegntix.server.stream")
    if stream is not None:
        app.include_router(stream.router)

    mcp = app.state.mcp = McpEndpoint(app, host=host)
    # a plain route (not in the OpenAPI schema), before the UI's catch-all mount
    app.router.routes.append(
        Route(MCP_PATH, mcp, methods=["GET", "POST", "DELETE"], include_in_schema=False)
    )

    if STATIC_DIR.is_dir():
        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="ui")

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
