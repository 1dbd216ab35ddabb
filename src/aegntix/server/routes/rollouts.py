"""Rollout sets: create (forks and runs N members in the background), list, get with
progress, members; continue and extend."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from aegntix.analysis.driving import check_undriven
from aegntix.analysis.forking import fork_missing_members
from aegntix.analysis.records import MAX_ROLLOUTS, RolloutSet
from aegntix.analysis.rollouts import (
    InjectionSpec,
    create_set,
    extend_set,
    fail_sets,
    members_view,
    repository,
    run_sets,
    settle,
    with_control,
)
from aegntix.engine.runner import StepResult
from aegntix.errors import BranchBusy, is_transient, reason_of
from aegntix.model.events import BranchStatus
from aegntix.security.roles import Principal
from aegntix.server.auth import principal_from_request
from aegntix.server.deps import BranchId, ReadStore, WriteStore, tenant_store
from aegntix.server.rollout_stream import ProgressBoard, board_of, set_out, stream_rollout
from aegntix.server.schemas import INT64, MAX_ID, Injection, finite, problem_responses
from aegntix.timeline.tenancy import TenantStore
from aegntix.workers.remote import QueueExecutor

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1", tags=["rollouts"], responses=problem_responses(401, 403, 404, 422))


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class RolloutRequest(_Body):
    at_step: int = Field(ge=0, le=INT64)
    n: int = Field(ge=1, le=MAX_ROLLOUTS)
    injection: Injection | None = None
    seed_base: int | None = Field(default=None, ge=0, le=INT64)


class ExtendRequest(_Body):
    to: int = Field(ge=1, le=MAX_ROLLOUTS)


class ProgressOut(BaseModel):
    done: int
    total: int


class RolloutSetOut(BaseModel):
    id: str
    scenario_id: str
    parent_id: str
    fork_step: int
    injection: dict[str, Any] | None
    n: int
    seed_base: int
    seeds: list[int]
    status: str
    control_id: str | None
    created_at: str
    progress: ProgressOut
    running: bool
    error: str | None = None  # why the last run stopped before its members ran


class MemberOut(BaseModel):
    index: int
    branch_id: str
    seed: int
    status: str
    head_step: int
    head_hash: str
    outcomes: dict[str, Any] | None


class RolloutTasks:
    """The sets running in the background, one task per set (its control runs with it):
    fork the members not forked yet, then run them, reporting progress to the
    :class:`ProgressBoard` that ``WS /v1/rollouts/{id}/stream`` follows.
    One set at a time per tenant: a set is already up to 2,000 concurrent branches, and a
    second one would only queue behind it for the same CPU."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._tenants: dict[str, asyncio.Task[Any]] = {}
        self._board: ProgressBoard | None = None

    def running(self, set_id: str) -> bool:
        task = self._tasks.get(set_id)
        return task is not None and not task.done()

    def check_idle(self, tenant_id: str) -> None:
        task = self._tenants.get(tenant_id)
        if task is not None and not task.done():
            raise BranchBusy(
                "a rollout set of this tenant is running; wait for it to finish (one at a time)"
            )

    async def start(self, app: FastAPI, store: TenantStore, rollout: RolloutSet) -> None:
        """Start the set (and its control) in the background; its members are forked there
        if they do not exist yet. Returns at once (the board says it is running). On
        PostgreSQL the sets are queued for a worker to drive instead (``BranchBusy`` if a
        driver has them already), so every replica reads that they run."""
        self.check_idle(store.tenant_id)
        repo = repository(store)
        sets = await asyncio.to_thread(with_control, repo, rollout.id)
        runs = getattr(app.state, "runs", None)
        if isinstance(runs, QueueExecutor):  # PostgreSQL: a worker drives it, not this replica
            await runs.drive_sets(store, [s.id for s in sets])
            return
        board = self._board = board_of(app)
        for s in sets:
            statuses = repo.member_statuses(s.id)
            done = sum(1 for v in statuses.values() if v == BranchStatus.DONE.value)
            board.begin(s.id, done=done, total=s.n, forked=len(statuses))
        task = asyncio.create_task(_fork_and_run(store, sets, board), name=f"rollouts:{rollout.id}")
        for s in sets:
            self._tasks[s.id] = task
        self._tenants[store.tenant_id] = task
        task.add_done_callback(lambda t: self._done([s.id for s in sets], t))

    def _done(self, set_ids: list[str], task: asyncio.Task[Any]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            log.error("rollout set failed", set_id=set_ids[0], error=repr(error))
        if self._board is not None:
            for set_id in set_ids:
                self._board.settle(set_id, None if error is None else reason_of(error))

    async def close(self) -> None:
        """Cancel every set (members stop after a whole step; ``continue`` resumes them)."""
        tasks = {id(t): t for t in self._tasks.values() if not t.done()}.values()
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._board is not None:
            self._board.close()


async def _fork_and_run(
    store: TenantStore,
    sets: list[RolloutSet],
    board: ProgressBoard,
) -> None:
    """Fork the members the sets lack (control first, as ``create_set`` does), then run
    every unfinished member. A fork that fails marks the sets failed; a shutdown while
    forking stops after the member being forked and leaves the sets partial (``continue``
    does the rest in both cases)."""
    repo = repository(store)
    loop = asyncio.get_running_loop()
    try:
        for s in reversed(sets):

            def forked(count: int, set_id: str = s.id) -> None:  # in the forking thread
                loop.call_soon_threadsafe(board.forked, set_id, count)

            await fork_missing_members(store, repo, s, on_member=forked)
    except asyncio.CancelledError:
        for s in sets:
            await asyncio.to_thread(settle, repo, s.id)
        raise
    except Exception as error:
        await asyncio.to_thread(fail_sets, repo, [s.id for s in sets], error)
        raise

    set_of = {m.branch_id: s.id for s in sets for m in await asyncio.to_thread(repo.members, s.id)}

    def stepped(result: StepResult) -> None:  # (members' events reach streams from the bus)
        if (set_id := set_of.get(result.branch_id)) is not None:
            board.stepped(set_id, result.branch_id, result.step)

    try:
        await run_sets(store, sets, on_step=stepped, on_progress=board.running)
    except Exception as error:
        if not is_transient(error):  # a transient fault leaves the set to "continue"
            await asyncio.to_thread(fail_sets, repo, [s.id for s in sets], error)
        raise


def tasks_of(app: FastAPI) -> RolloutTasks:
    tasks: RolloutTasks | None = getattr(app.state, "rollouts", None)
    if tasks is None:
        tasks = app.state.rollouts = RolloutTasks()
    return tasks


router.add_api_websocket_route("/rollouts/{set_id}/stream", stream_rollout)

_Caller = Annotated[Principal, Depends(principal_from_request)]


def _set_path(
    request: Request,
    principal: _Caller,
    set_id: Annotated[str, Path(min_length=1, max_length=MAX_ID)],
) -> str:
    """The full id of this tenant's set (or unique prefix); a foreign id is a 404."""
    return repository(tenant_store(request.app, principal)).resolve(set_id)


SetId = Annotated[str, Depends(_set_path)]


def _out(request: Request, store: TenantStore, rollout: RolloutSet) -> dict[str, Any]:
    return set_out(request.app, store, rollout)


def _create(store: TenantStore, branch_id: str, body: RolloutRequest) -> RolloutSet:
    spec = None
    if body.injection is not None:
        i = body.injection
        spec = InjectionSpec(
            i.content, i.strategy, i.targets, i.fields, i.world, i.urgency, i.schedule_json()
        )
    return create_set(
        store, branch_id, body.at_step, body.n, spec, seed_base=body.seed_base, fork=False
    )


@router.post(
    "/branches/{branch_id}/rollouts",
    status_code=202,
    response_model=RolloutSetOut,
    responses=problem_responses(409),
)
async def create_rollouts(
    request: Request, branch_id: BranchId, body: RolloutRequest, store: WriteStore
) -> dict[str, Any]:
    """Record a set of ``n`` members forked from this branch at ``at_step`` (each with its
    own derived seed; with an ``injection``, also a control set of the same seeds without it)
    and answer at once: the members are forked and run to termination in the background.
    Follow ``WS /v1/rollouts/{id}/stream`` (or ``GET /v1/rollouts/{id}``)."""
    return await start_set(request.app, store, branch_id, body)


async def start_set(
    app: FastAPI, store: TenantStore, branch_id: str, body: RolloutRequest
) -> dict[str, Any]:
    """Record the set and start it in the background; the set as the API shows it (REST and
    the MCP tools)."""
    tasks_of(app).check_idle(store.tenant_id)  # before anything is written
    rollout = await asyncio.to_thread(_create, store, branch_id, body)
    await tasks_of(app).start(app, store, rollout)
    return await asyncio.to_thread(set_out, app, store, rollout)


@router.get("/rollouts", response_model=list[RolloutSetOut])
def list_rollouts(request: Request, store: ReadStore) -> list[dict[str, Any]]:
    """This tenant's rollout sets, oldest first, each with its progress."""
    return [_out(request, store, s) for s in repository(store).list_sets()]


@router.get("/rollouts/{set_id}", response_model=RolloutSetOut)
def get_rollouts(request: Request, set_id: SetId, store: ReadStore) -> dict[str, Any]:
    """The set with its progress (members done / total) and whether it is running now."""
    return _out(request, store, repository(store).get(set_id))


@router.get("/rollouts/{set_id}/stats")
async def rollout_stats(
    set_id: SetId, store: ReadStore, vs: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    """Each outcome's distribution across the set's finished futures (mean or rate, sd,
    quantiles, 95% CI, histogram) and, against its control (same seeds, paired) or ``vs``
    (another set from the same point, unpaired), the effect with its CI, effect size,
    permutation p-value and a sentence; per-agent effects; the step where futures part."""

    def compute() -> dict[str, Any]:
        from aegntix.analysis.study import set_stats  # scipy: a server pays it on first use

        other = repository(store).resolve(vs) if vs else None
        return set_stats(store, set_id, vs=other)

    return finite(await asyncio.to_thread(compute))


@router.get("/rollouts/{set_id}/members", response_model=list[MemberOut])
def rollout_members(set_id: SetId, store: ReadStore) -> list[dict[str, Any]]:
    """Each member in seed order: its branch (open or compare it like any), status and,
    once finished, outcomes."""
    return members_view(store, set_id)


@router.post(
    "/rollouts/{set_id}/continue",
    status_code=202,
    response_model=RolloutSetOut,
    responses=problem_responses(409),
)
async def continue_rollouts(request: Request, set_id: SetId, store: WriteStore) -> dict[str, Any]:
    """Run only the unfinished members (and the control's) in the background; members a
    crash left unforked are forked there first."""
    tasks_of(request.app).check_idle(store.tenant_id)
    await asyncio.to_thread(check_undriven, store, set_id)  # before anything is written
    n = (await asyncio.to_thread(repository(store).get, set_id)).n
    rollout = await asyncio.to_thread(functools.partial(extend_set, fork=False), store, set_id, n)
    await tasks_of(request.app).start(request.app, store, rollout)
    return await asyncio.to_thread(_out, request, store, rollout)


@router.post(
    "/rollouts/{set_id}/extend",
    status_code=202,
    response_model=RolloutSetOut,
    responses=problem_responses(409),
)
async def extend_rollouts(
    request: Request, set_id: SetId, body: ExtendRequest, store: WriteStore
) -> dict[str, Any]:
    """Grow the set (and its control) to ``to`` members and answer at once; the new ones are
    forked and run in the background, the first ones are not touched."""
    tasks_of(request.app).check_idle(store.tenant_id)
    await asyncio.to_thread(check_undriven, store, set_id)
    rollout = await asyncio.to_thread(
        functools.partial(extend_set, fork=False), store, set_id, body.to
    )
    await tasks_of(request.app).start(request.app, store, rollout)
    return await asyncio.to_thread(_out, request, store, rollout)
