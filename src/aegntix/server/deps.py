"""Shared server state (``app.state``) and the dependencies routes use to reach it.

``app.state.store`` is the unscoped ``SqlStore``; tenant data is only ever read through
:func:`tenant_store`, which scopes it to the caller's tenant.

Branch and scenario ids in paths (:data:`BranchId`, :data:`ScenarioId`) and queries
(:func:`resolved`) may be unique prefixes (4+ characters), resolved within the caller's
tenant: a route always works on the full id.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol

from fastapi import Depends, FastAPI, Path, Request

from aegntix.errors import AmbiguousId
from aegntix.model.events import Event
from aegntix.security.roles import Action, Principal
from aegntix.server.auth import principal_from_request, require
from aegntix.server.problems import Problem
from aegntix.server.schemas import MAX_ID
from aegntix.timeline.sqlstore import SqlStore
from aegntix.timeline.tenancy import TenantStore
from aegntix.workers.executor import Executor


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


def get_runs(app: FastAPI) -> Executor:
    runs: Executor = app.state.runs
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


def runs_of(request: Request) -> Executor:
    return get_runs(request.app)


Runs = Annotated[Executor, Depends(runs_of)]


# -- ids by unique prefix ------------------------------------------------------------------
def resolved(store: TenantStore, ref: str, field: str, kind: Literal["branch", "scenario"]) -> str:
    """The full id ``ref`` names in ``store``'s tenant (itself, or the one id it starts):
    404 if none (another tenant's ids included), 409 naming ``field`` if several."""
    try:
        return store.resolve_branch(ref) if kind == "branch" else store.resolve_scenario(ref)
    except AmbiguousId as exc:
        raise Problem(
            409,
            f"{field}: {exc}",
            slug="ambiguous-id",
            errors=[{"field": field, "reason": str(exc)}],
        ) from None


IdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_ID,
        description="The id, or a unique prefix of it (4+ characters).",
    ),
]
#: Any authenticated key (the route's own dependency checks its role): resolving only looks
#: at the key's tenant.
_Caller = Annotated[Principal, Depends(principal_from_request)]


def _branch_path(request: Request, branch_id: IdPath, principal: _Caller) -> str:
    return resolved(tenant_store(request.app, principal), branch_id, "branch_id", "branch")


def _scenario_path(request: Request, scenario_id: IdPath, principal: _Caller) -> str:
    return resolved(tenant_store(request.app, principal), scenario_id, "scenario_id", "scenario")


#: The ``{branch_id}`` path parameter, resolved to a full id (sync: runs in the threadpool).
BranchId = Annotated[str, Depends(_branch_path)]
#: The ``{scenario_id}`` path parameter, resolved to a full id.
ScenarioId = Annotated[str, Depends(_scenario_path)]
