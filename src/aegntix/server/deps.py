"""Shared server state (``app.state``) and the dependencies routes use to reach it.

``app.state.store`` is the unscoped ``SqlStore``; tenant data is only ever read through
:func:`tenant_store`, which scopes it to the caller's tenant.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Request

from aegntix.model.events import Event
from aegntix.security.roles import Action, Principal
from aegntix.server.auth import require
from aegntix.server.runs import RunManager
from aegntix.timeline.sqlstore import SqlStore
from aegntix.timeline.tenancy import TenantStore


class Hub(Protocol):
    """What the REST side needs of the WebSocket hub (``aegntix.server.hub.EventHub``)."""

    def publish_events(self, branch_id: str, events: list[Event]) -> None: ...

    def publish_status(
        self, branch_id: str, status: str, failure: dict[str, Any] | None = None
    ) -> None: ...


def get_store(app: FastAPI) -> SqlStore:
    store: SqlStore = app.state.store
    return store


def get_hub(app: FastAPI) -> Hub:
    hub: Hub = app.state.hub
    return hub


def get_runs(app: FastAPI) -> RunManager:
    runs: RunManager = app.state.runs
    return runs


def tenant_store(app: FastAPI, principal: Principal) -> TenantStore:
    """The caller's view of the timeline: its tenant's rows only."""
    return TenantStore(get_store(app), principal.tenant_id)


# -- route dependencies --------------------------------------------------------------------
def _scoped(action: Action) -> Any:
    async def dependency(
        request: Request,
        principal: Principal = Depends(require(action)),  # noqa: B008
    ) -> TenantStore:
        return tenant_store(request.app, principal)

    return Depends(dependency)


ReadStore = Annotated[TenantStore, _scoped(Action.READ)]
WriteStore = Annotated[TenantStore, _scoped(Action.WRITE)]
DeleteStore = Annotated[TenantStore, _scoped(Action.DELETE)]
Reader = Annotated[Principal, Depends(require(Action.READ))]
Writer = Annotated[Principal, Depends(require(Action.WRITE))]
KeyManager = Annotated[Principal, Depends(require(Action.MANAGE_KEYS))]


def runs_of(request: Request) -> RunManager:
    return get_runs(request.app)


Runs = Annotated[RunManager, Depends(runs_of)]
