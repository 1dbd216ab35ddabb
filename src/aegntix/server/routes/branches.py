"""Branches: list, tree, get, fork, run/pause/resume/step, status, events, state, outcomes,
inject; and compare two branches."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query

from aegntix.brains.accounting import usage_for
from aegntix.brains.rules.reading import embedder
from aegntix.errors import BranchBusy, ExpressionFailed, ForkOutOfRange
from aegntix.inject.preview import preview
from aegntix.inject.strategies import Injected, inject
from aegntix.model.events import Branch, BranchStatus, EventKind
from aegntix.model.outcomes import compute_outcomes
from aegntix.model.scenario import Scenario
from aegntix.model.state import STEP_END
from aegntix.model.stored import scenario_from
from aegntix.server.deps import BranchId, ReadStore, Runs, WriteStore, resolved
from aegntix.server.problems import Problem
from aegntix.server.schemas import (
    INT64,
    MAX_ID,
    BranchNode,
    BranchOut,
    ComparisonOut,
    EventPage,
    ExplainOut,
    ForkRequest,
    Injection,
    InjectOut,
    InjectRequest,
    OutcomesOut,
    RunRequest,
    SeriesPoint,
    StateOut,
    StatusOut,
    StepOut,
    branch_json,
    comparison_json,
    finite,
    problem_responses,
    step_json,
)
from aegntix.timeline.compare import compare as compare_branches
from aegntix.timeline.leases import as_running
from aegntix.timeline.state import state_at
from aegntix.timeline.tenancy import TenantStore
from aegntix.workers.executor import NO_WORKER_HINT, QUEUED

router = APIRouter(
    prefix="/v1",
    tags=["branches"],
    responses=problem_responses(401, 403, 404, 422),
)

#: At most this many events are examined per page when filtering by kind or agent.
SCAN_LIMIT = 10_000

Id = Annotated[str, Query(min_length=1, max_length=MAX_ID)]
OptionalId = Annotated[str | None, Query(min_length=1, max_length=MAX_ID)]
Step = Annotated[int | None, Query(ge=0, le=INT64)]


# -- listing -------------------------------------------------------------------------------
@router.get("/branches", response_model=list[BranchOut])
def list_branches(store: ReadStore, scenario_id: OptionalId = None) -> list[dict[str, Any]]:
    """This tenant's branches (of one scenario, if given), oldest first."""
    if scenario_id is not None:  # a foreign or unknown scenario: 404, not []
        scenario_id = resolved(store, scenario_id, "scenario_id", "scenario")
    return [branch_json(b) for b in store.list_branches(scenario_id)]


def _tree(found: list[Branch]) -> list[dict[str, Any]]:
    nodes = {b.id: {**branch_json(b), "children": []} for b in found}
    roots: list[dict[str, Any]] = []
    for b in found:  # oldest first, so children keep their creation order
        parent = nodes.get(b.parent_id) if b.parent_id is not None else None
        (parent["children"] if parent is not None else roots).append(nodes[b.id])
    return roots


@router.get("/branches/tree", response_model=list[BranchNode])
def branch_tree(store: ReadStore, scenario_id: OptionalId = None) -> list[dict[str, Any]]:
    """The branches as trees: each root with nested ``children`` (forks at ``fork_step``)."""
    if scenario_id is not None:
        scenario_id = resolved(store, scenario_id, "scenario_id", "scenario")
    return _tree(store.list_branches(scenario_id))


@router.get("/branches/{branch_id}", response_model=BranchOut)
def get_branch(branch_id: BranchId, store: ReadStore, runs: Runs) -> dict[str, Any]:
    """The branch, its status read with its run lease (as ``/status``)."""
    stored, lease = runs.leases.read(branch_id, store.tenant_id)
    return branch_json(as_running(stored, lease, time.time())[0])


# -- fork and inject -----------------------------------------------------------------------
def _fork(store: TenantStore, branch_id: str, body: ForkRequest) -> dict[str, Any]:
    if body.injection is None:
        return branch_json(store.fork(branch_id, body.at_step, seed=body.seed, label=body.label))
    # validated before anything is written: bad input leaves no fork
    done = _inject(
        store,
        branch_id,
        body.injection,
        at_step=body.at_step,
        label=body.label,
        new_branch=True,
        seed=body.seed,
    )
    return branch_json(done.branch)


@router.post(
    "/branches/{branch_id}/fork",
    status_code=201,
    response_model=BranchOut,
    responses=problem_responses(409),
)
async def fork_branch(branch_id: BranchId, body: ForkRequest, store: WriteStore) -> dict[str, Any]:
    """A new branch sharing this one's history up to ``at_step`` (O(1)); with an
    ``injection``, the injection is its first event."""
    return await asyncio.to_thread(_fork, store, branch_id, body)


def _inject(
    store: TenantStore,
    branch_id: str,
    body: Injection,
    *,
    at_step: int | None,
    label: str | None,
    new_branch: bool,
    seed: int | None = None,
) -> Injected:
    """The one place a request's injection reaches ``inject`` (fork and inject routes)."""
    return inject(
        store,
        branch_id,
        body.content,
        targets=body.targets,
        strategy=body.strategy,
        schedule=body.schedule_json(),
        at_step=at_step,
        fields=body.fields,
        world=body.world,
        urgency=body.urgency,
        label=label,
        new_branch=new_branch,
        seed=seed,
    )


@router.post(
    "/branches/{branch_id}/inject", response_model=InjectOut, responses=problem_responses(409)
)
async def inject_branch(
    branch_id: BranchId, body: InjectRequest, store: WriteStore, runs: Runs
) -> dict[str, Any]:
    """Inject now (after the last completed step), or at a past ``at_step``, which forks
    first so the original future stays intact. A running branch only takes an injection at
    an ``at_step`` (into a fork); pause it to inject into it."""
    running = await runs.running(branch_id)
    if running and body.at_step is None:
        await asyncio.to_thread(store.get_branch, branch_id)  # a foreign id stays a 404
        raise BranchBusy(
            f"branch '{branch_id}' is running: pause it first, or give at_step to fork"
        )
    done = await asyncio.to_thread(
        lambda: _inject(
            store, branch_id, body, at_step=body.at_step, label=body.label, new_branch=running
        )
    )
    return {
        "branch": branch_json(done.branch),
        "forked": done.forked,
        "events": [e.to_json() for e in done.events],
    }


def _explain(store: TenantStore, branch_id: str, body: InjectRequest) -> dict[str, Any]:
    branch = store.get_branch(branch_id)
    if body.at_step is not None and body.at_step > branch.head_step:
        raise ForkOutOfRange(
            f"cannot inject at step {body.at_step}: "
            f"branch {branch_id} has completed steps 0..{branch.head_step}"
        )
    # the step it lands at: after at_step (a fork), else after the head
    at = int(state_at(store, branch.id)["completed"]) if body.at_step is None else body.at_step
    lands = at + 1
    found = preview(
        _scenario(store, branch),
        body.content,
        targets=body.targets,
        strategy=body.strategy,
        schedule=body.schedule_json(),
        fields=body.fields,
        world=body.world,
        urgency=body.urgency,
        seed=branch.seed,
        step=lands,
    )
    uses_embedder = found.arguments and any(a.brain == "rules" for a in found.agents)
    name = embedder().name if uses_embedder else "none"
    return {"branch_id": branch.id, **found.json(), "embedder": name}


@router.post(
    "/branches/{branch_id}/injections/explain",
    response_model=ExplainOut,
    responses=problem_responses(409),
)
async def explain_injection(
    branch_id: BranchId, body: InjectRequest, store: ReadStore
) -> dict[str, Any]:
    """How the offline rules brain would read this injection, per agent that would hear it
    (direction, strength, relevance, reason), and a plain verdict. The body is an inject
    request's; nothing is written."""
    return finite(await asyncio.to_thread(_explain, store, branch_id, body))


# -- running -------------------------------------------------------------------------------
def _started(branch_id: str, status: str) -> dict[str, str]:
    """A started run's answer; a queued one says why it waits (no worker process alive)."""
    answer = {"branch_id": branch_id, "status": status}
    if status == QUEUED:
        answer["hint"] = NO_WORKER_HINT
    return answer


async def _not_done(store: TenantStore, branch_id: str) -> None:
    """A finished branch has no step left: starting it would answer "running" and do
    nothing, so it is refused as ``step`` refuses it."""
    if (await asyncio.to_thread(store.get_branch, branch_id)).status is BranchStatus.DONE:
        raise Problem(
            409, f"branch '{branch_id}' has terminated: fork it to go on", slug="branch-done"
        )


@router.post("/branches/{branch_id}/run", status_code=202, responses=problem_responses(409))
async def run_branch(
    branch_id: BranchId, store: WriteStore, runs: Runs, body: RunRequest | None = None
) -> dict[str, str]:
    """Start running in the background (until it terminates, or ``steps`` steps); follow it
    on the WebSocket ``/v1/branches/{id}/stream``. 409 if it is already running or done."""
    await _not_done(store, branch_id)
    status = await runs.start(store, branch_id, body.steps if body else None)
    return _started(branch_id, status)


@router.post("/branches/{branch_id}/resume", status_code=202, responses=problem_responses(409))
async def resume_branch(
    branch_id: BranchId, store: WriteStore, runs: Runs, body: RunRequest | None = None
) -> dict[str, str]:
    """Continue a paused (or stopped) branch from its last completed step. 409 if it is
    already running or done."""
    await _not_done(store, branch_id)
    status = await runs.start(store, branch_id, body.steps if body else None)
    return _started(branch_id, status)


@router.post("/branches/{branch_id}/pause", status_code=202, responses=problem_responses(409))
async def pause_branch(branch_id: BranchId, store: WriteStore, runs: Runs) -> dict[str, str]:
    """Stop after the step in progress (the branch ends ``paused``)."""
    await asyncio.to_thread(store.get_branch, branch_id)
    return {"branch_id": branch_id, "status": await runs.pause(store, branch_id)}


@router.post("/branches/{branch_id}/cancel", status_code=202, responses=problem_responses(409))
async def cancel_branch(branch_id: BranchId, store: WriteStore, runs: Runs) -> dict[str, str]:
    """Stop now: the step in progress is dropped (the branch ends ``paused`` after its last
    whole step). 409 if it is not running."""
    await asyncio.to_thread(store.get_branch, branch_id)
    if not await runs.cancel(branch_id):
        raise BranchBusy(f"branch '{branch_id}' is not running")
    return {"branch_id": branch_id, "status": "cancelling"}


@router.post("/branches/{branch_id}/step", response_model=StepOut, responses=problem_responses(409))
async def step_branch(branch_id: BranchId, store: WriteStore, runs: Runs) -> dict[str, Any]:
    """Run exactly one step now and return its events and outcomes."""
    result = await runs.step(store, branch_id)
    if result is None:
        raise Problem(409, f"branch '{branch_id}' has terminated", slug="branch-done")
    return finite(step_json(result))


@router.get("/branches/{branch_id}/status", response_model=StatusOut)
async def branch_status(branch_id: BranchId, store: ReadStore, runs: Runs) -> dict[str, Any]:
    s = await runs.status(store, branch_id)
    return {
        "branch_id": s.branch_id,
        "status": s.status,
        "running": s.running,
        "head_seq": s.head_seq,
        "head_step": s.head_step,
        "failure": None if s.failure is None else s.failure.to_json(),
    }


# -- reading -------------------------------------------------------------------------------
@router.get("/branches/{branch_id}/events", response_model=EventPage)
def branch_events(
    branch_id: BranchId,
    store: ReadStore,
    from_seq: Annotated[int, Query(ge=1, le=INT64)] = 1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    kind: EventKind | None = None,
    agent_id: OptionalId = None,
) -> dict[str, Any]:
    """A page of the branch's logical sequence (ancestors' events up to each fork, then its
    own) from ``from_seq``; ``next_seq`` continues it (null: nothing more yet)."""
    head = store.get_branch(branch_id).head_seq
    filtered = kind is not None or agent_id is not None
    page: list[dict[str, Any]] = []
    last = from_seq - 1
    to_seq = head if not filtered else min(head, from_seq + SCAN_LIMIT - 1)
    for e in store.events(branch_id, from_seq=from_seq, to_seq=to_seq):
        last = e.seq
        if (kind is None or e.kind == kind) and (agent_id is None or e.agent_id == agent_id):
            page.append(e.to_json())
            if len(page) >= limit:
                break
    if filtered and len(page) < limit:
        last = to_seq
    return {"events": page, "next_seq": last + 1 if last < head else None}


def _scenario(store: TenantStore, branch: Branch) -> Scenario:
    return scenario_from(store.get_scenario(branch.scenario_id))


@router.get("/branches/{branch_id}/state", response_model=StateOut)
def branch_state(branch_id: BranchId, store: ReadStore, step: Step = None) -> dict[str, Any]:
    """World and agents after ``step`` (default: the head)."""
    branch = store.get_branch(branch_id)
    state = state_at(store, branch_id, step)
    at = branch.head_step if step is None else step
    return {"branch_id": branch_id, "step": at, "state": finite(state)}


@router.get("/branches/{branch_id}/outcomes", response_model=OutcomesOut)
def branch_outcomes(branch_id: BranchId, store: ReadStore, step: Step = None) -> dict[str, Any]:
    """The scenario's declared outcomes after ``step`` (default: the head)."""
    branch = store.get_branch(branch_id)
    state = state_at(store, branch_id, step)
    try:
        outcomes = compute_outcomes(_scenario(store, branch), state)
    except ExpressionFailed:
        outcomes = {}
    at = branch.head_step if step is None else step
    return {"branch_id": branch_id, "step": at, "outcomes": finite(outcomes)}


@router.get("/branches/{branch_id}/outcomes/series", response_model=list[SeriesPoint])
def outcome_series(branch_id: BranchId, store: ReadStore) -> list[dict[str, Any]]:
    """Outcomes after every completed step, as recorded by each step's ``step_end``."""
    head = store.get_branch(branch_id).head_seq
    return [
        {"step": e.step, "outcomes": finite(e.payload.get("outcomes") or {})}
        for e in store.events(branch_id, to_seq=head)
        if e.kind is EventKind.SYSTEM and e.payload.get("type") == STEP_END
    ]


@router.get("/compare", response_model=ComparisonOut, tags=["compare"])
def compare(store: ReadStore, a: Id, b: Id) -> dict[str, Any]:
    """Where two branches part, how their worlds and outcomes differ, and the outcome
    distance step by step (``divergence_series``: ``[[step, distance], ...]``)."""
    a, b = resolved(store, a, "a", "branch"), resolved(store, b, "b", "branch")
    return comparison_json(compare_branches(store, a, b))


@router.get("/branches/{branch_id}/usage")
def usage(branch_id: BranchId, store: ReadStore) -> dict[str, Any]:
    """Model tokens and cost: recorded per agent for this branch, billed per branch,
    scenario and tenant (all zero for the offline rules brain)."""
    return usage_for(store, branch_id)
