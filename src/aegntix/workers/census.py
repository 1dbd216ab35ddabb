"""Who is working: live workers, the slice each runs, heartbeats and queue depth, read from
procrastinate's own tables (``procrastinate_workers``, ``procrastinate_jobs``) in the
timeline's database. Used by ``aegntix workers`` and by the API to say when no worker runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from aegntix.timeline.sqlstore import SqlStore
from aegntix.workers.queue import QUEUE, SLICE_TASK


@dataclass(frozen=True, slots=True)
class Slice:
    job_id: int
    branch_id: str
    tenant_id: str
    running_s: float | None  # since the job started (None: not recorded)
    #: ``host:pid`` of the process holding the branch's run lease (the worker's name in its
    #: logs; what to signal), None between two of its slices
    process: str | None = None


@dataclass(frozen=True, slots=True)
class WorkerRow:
    worker_id: int
    heartbeat_age_s: float
    live: bool
    slices: list[Slice] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Census:
    workers: list[WorkerRow]
    queued: int  # slices waiting (queue depth)

    @property
    def live(self) -> int:
        return sum(w.live for w in self.workers)


def _has_queue(conn: Connection) -> bool:
    return conn.execute(text("SELECT to_regclass('procrastinate_workers')")).scalar() is not None


def live_workers(conn: Connection, stalled_s: float) -> int:
    """Workers that heart-beat within ``stalled_s`` seconds (0 before any worker ran)."""
    if not _has_queue(conn):
        return 0
    query = text(
        "SELECT count(*) FROM procrastinate_workers "
        "WHERE last_heartbeat > now() - make_interval(secs => :s)"
    )
    return int(conn.execute(query, {"s": stalled_s}).scalar() or 0)


def queue_depths(conn: Connection) -> dict[str, float]:
    """Jobs waiting per queue (``aegntix_queue_depth``); empty before the queue exists. Our
    queue is always there, 0 when empty: a series that vanishes at 0 reads as "no data"."""
    if not _has_queue(conn):
        return {}
    rows = conn.execute(
        text(
            "SELECT queue_name, count(*) FROM procrastinate_jobs "
            "WHERE status = 'todo' GROUP BY queue_name"
        )
    ).all()
    return {QUEUE: 0.0} | {str(name): float(n) for name, n in rows}


def take_census(conn: Connection, stalled_s: float) -> Census:
    if not _has_queue(conn):
        return Census([], 0)
    rows = conn.execute(
        text(
            "SELECT id, EXTRACT(EPOCH FROM now() - last_heartbeat) AS age "
            "FROM procrastinate_workers ORDER BY id"
        )
    ).all()
    slices: dict[int, list[Slice]] = {}
    doing = conn.execute(
        text(
            "SELECT j.id, j.worker_id, j.args->>'branch_id' AS branch_id, "
            "j.args->>'tenant_id' AS tenant_id, "
            "(SELECT EXTRACT(EPOCH FROM now() - max(e.at)) FROM procrastinate_events e "
            " WHERE e.job_id = j.id AND e.type = 'started') AS running_s, "
            "(SELECT l.owner FROM run_leases l WHERE l.branch_id = j.args->>'branch_id') "
            "AS owner "
            "FROM procrastinate_jobs j WHERE j.status = 'doing' AND j.task_name = :task "
            "ORDER BY j.id"
        ),
        {"task": SLICE_TASK},
    ).all()
    for job in doing:
        if job.worker_id is None:
            continue
        running = None if job.running_s is None else float(job.running_s)
        slices.setdefault(int(job.worker_id), []).append(
            Slice(int(job.id), str(job.branch_id), str(job.tenant_id), running, _process(job.owner))
        )
    workers = [
        WorkerRow(int(r.id), float(r.age), float(r.age) < stalled_s, slices.get(int(r.id), []))
        for r in rows
    ]
    return Census(workers, int(queue_depths(conn)[QUEUE]))


def _process(owner: str | None) -> str | None:
    # a lease owner is host:pid:token (``timeline/leases.py``); the token names no process
    return None if owner is None else owner.rsplit(":", 1)[0]


def census(store: SqlStore, stalled_s: float) -> Census:
    with store.reading() as conn:
        return take_census(conn, stalled_s)


def depths(store: SqlStore) -> dict[str, float]:
    """:func:`queue_depths` on a connection of its own (a metrics source)."""
    with store.reading() as conn:
        return queue_depths(conn)


def count_live(store: SqlStore, stalled_s: float) -> int:
    with store.reading() as conn:
        return live_workers(conn, stalled_s)
