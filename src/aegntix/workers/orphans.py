"""Runs nobody will run: a process that recorded a start (the run intent) and died before it
queued the run's first slice left a branch that reads running for ever — no lease, no slice,
and every later start refused as busy. The periodic job of every worker finds such intents
(older than the stalled-worker time, so a start between its two writes is never taken for
one) and queues the slice that start would have queued, with the intent's token."""

from __future__ import annotations

import asyncio
import time

import structlog
from procrastinate import App
from sqlalchemy import select

from aegntix.timeline.leases import RunLeases
from aegntix.timeline.schema import run_intents
from aegntix.timeline.sqlstore import SqlStore
from aegntix.workers.intents import Want
from aegntix.workers.queue import defer_slice, slice_lock

log = structlog.get_logger(__name__)


def _wanted_before(store: SqlStore, cutoff: float) -> list[tuple[str, str, str]]:
    """(branch, tenant, token) of the runs wanted since before ``cutoff``."""
    query = select(run_intents.c.branch_id, run_intents.c.tenant_id, run_intents.c.token).where(
        run_intents.c.want == Want.RUN.value, run_intents.c.updated_at < cutoff
    )
    with store.reading() as conn:
        return [(str(b), str(t), str(k)) for b, t, k in conn.execute(query)]


async def requeue_orphaned(app: App, store: SqlStore, leases: RunLeases, grace_s: float) -> int:
    """Queue a slice for each run wanted for ``grace_s`` with no slice queued or running and
    no lease held; how many."""
    wanted = await asyncio.to_thread(_wanted_before, store, time.time() - grace_s)
    queued = 0
    for branch_id, tenant_id, token in wanted:
        if await asyncio.to_thread(leases.holder, branch_id) is not None:
            continue  # a slice runs it
        lock = slice_lock(branch_id)
        jobs = [
            job
            for status in ("todo", "doing")
            for job in await app.job_manager.list_jobs_async(lock=lock, status=status)
        ]
        if jobs:
            continue
        kwargs = {"branch_id": branch_id, "tenant_id": tenant_id, "token": token}
        if await defer_slice(app, kwargs):
            queued += 1
            log.warning("queued the slice of a run whose start died", branch_id=branch_id)
    return queued
