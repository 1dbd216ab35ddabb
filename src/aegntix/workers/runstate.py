"""A branch's run state on PostgreSQL with workers, read in ONE statement.

``QueueExecutor.status`` answers every ``GET /status`` and every stream's handshake (and its
re-reads): the branch row, its run lease, its run intent and — only for a run between
slices — whether any worker is alive. Read as three statements on three pooled connections
that cost a replica three check-outs (each with the pool's ping) and three transactions per
connecting client; as one it is one, and the four come from one snapshot, so the intent and
the row can never disagree about a run settling in between.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, case, column, exists, func, or_, select, table

from aegntix.errors import BranchNotFound
from aegntix.model.events import Branch, BranchStatus, Failure
from aegntix.timeline import queries as q
from aegntix.timeline.leases import Lease, as_running, lease_in
from aegntix.timeline.schema import branches, run_intents, run_leases, scenarios
from aegntix.workers.executor import QUEUED, RunState
from aegntix.workers.intents import Want

#: Status of a run asked to pause (or cancel) that has not stopped yet.
PAUSING = "pausing"

# procrastinate's table (not in our metadata): only its heartbeat column is read here
_workers = table("procrastinate_workers", column("last_heartbeat"))


@dataclass(frozen=True, slots=True)
class RunRow:
    branch: Branch
    lease: Lease | None
    want: Want | None  # the run intent's (None: no run wanted or settling)
    #: a worker heart-beat within ``stalled_s``; read only for a wanted run no live lease
    #: holds (None otherwise)
    workers_alive: bool | None
    read_at: float  # the time the lease was judged by (``now``)


def read_run(
    conn: Connection, branch_id: str, tenant_id: str | None, stalled_s: float, now: float
) -> RunRow:
    """The branch (``BranchNotFound`` if missing, deleted or another tenant's), its lease,
    its intent and, when it matters, whether a worker is alive: one statement."""
    alive = exists(
        select(1)
        .select_from(_workers)
        .where(
            _workers.c.last_heartbeat > func.now() - func.make_interval(0, 0, 0, 0, 0, 0, stalled_s)
        )
    )
    between_slices = and_(
        run_intents.c.want.is_not(None),
        or_(run_leases.c.expires_at.is_(None), run_leases.c.expires_at <= now),
    )
    query = (
        select(
            branches,
            run_leases.c.owner.label("lease_owner"),
            run_leases.c.expires_at,
            run_intents.c.want.label("intent_want"),
            # CASE evaluates the sub-select only for a run between slices
            case((between_slices, alive), else_=None).label("workers_alive"),
        )
        .select_from(
            branches.join(scenarios, scenarios.c.id == branches.c.scenario_id)
            .outerjoin(run_leases, run_leases.c.branch_id == branches.c.id)
            .outerjoin(run_intents, run_intents.c.branch_id == branches.c.id)
        )
        .where(branches.c.id == branch_id, scenarios.c.deleted_at.is_(None))
    )
    if tenant_id is not None:
        query = query.where(branches.c.tenant_id == tenant_id)
    row = conn.execute(query).first()
    if row is None:
        raise BranchNotFound(f"no branch '{branch_id}'")
    m = row._mapping
    lease = lease_in(row, branch_id)
    want = None if m["intent_want"] is None else Want(m["intent_want"])
    alive_now = None if m["workers_alive"] is None else bool(m["workers_alive"])
    return RunRow(q.row_to_branch(row), lease, want, alive_now, now)


def run_state(found: RunRow) -> RunState:
    """What ``status`` answers: the row as its lease says (``as_running``, at the time the
    statement judged it by: the live-worker check agrees); a run wanted but between slices
    (or waiting for a worker) is still on — ``pausing`` if asked to stop, else ``running``,
    or ``queued`` while no worker is alive."""
    b, running = as_running(found.branch, found.lease, found.read_at)
    status = b.status.value
    finished = b.status in {BranchStatus.DONE, BranchStatus.FAILED}
    if not running and found.want is not None and not finished:
        running = True
        if found.want is not Want.RUN:
            status = PAUSING
        else:
            status = BranchStatus.RUNNING.value if found.workers_alive else QUEUED
    failure: Failure | None = b.failure
    return RunState(b.id, status, running, b.head_seq, b.head_step, failure)
