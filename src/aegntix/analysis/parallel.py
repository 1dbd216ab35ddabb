"""Running a set's members on several cores: worker processes, one SQLite file.

The members still to run are dealt round-robin to ``processes`` worker processes (spawned,
so nothing of the parent's threads or connections is inherited). Each opens the same file
with its own store — its own writer thread and caches — and runs its share with the usual
``Scheduler``. The per-process head caches are safe because members are disjoint branches
and each is written by exactly one process; SQLite's write lock (``BEGIN IMMEDIATE`` with a
busy timeout) serialises the commits of the processes. Every step is still one atomic
append, so a killed worker leaves whole steps only, and ``continue`` resumes as in-process.

Progress flows back through a queue (one message per finished member); the parent settles
the sets when every worker has exited. A worker dies with its parent (``PR_SET_PDEATHSIG``
on Linux, else a watchdog on the parent's pid), so ``kill -9`` of the CLI leaves no worker
writing behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import structlog

from aegntix.analysis.leased import Held, run_leased
from aegntix.engine.scheduler import Scheduler
from aegntix.model.scenario import Scenario
from aegntix.repository import database_of, tenant_of
from aegntix.timeline.postgres import is_postgres_url, open_postgres_store
from aegntix.timeline.schema import DEFAULT_TENANT
from aegntix.timeline.sqlite import WriterQueue, open_sqlite_store
from aegntix.timeline.store import Store

log = structlog.get_logger(__name__)

#: How often the parent looks for exited workers (seconds).
POLL_S = 0.05
#: How long a worker asked to stop may take to finish its step before it is killed.
STOP_GRACE_S = 10.0

#: Members below which worker processes cost more than they save (starting one takes
#: ~1-2 s of imports; a small set runs in less in-process).
MIN_MEMBERS_FOR_PROCESSES = 64

#: (set id, branch id) of each member to run.
Work = Sequence[tuple[str, str]]


def shared_database(store: Store) -> str | None:
    """What worker processes open to reach ``store``'s database (a SqlStore or TenantStore):
    its SQLite file or PostgreSQL URL; None for anything else, which then runs in-process."""
    backend = database_of(store)
    if backend is None:
        return None
    engine = backend.engine
    if engine.dialect.name == "postgresql":
        return str(engine.url.render_as_string(hide_password=False))
    if engine.dialect.name != "sqlite":
        return None
    database = backend.engine.url.database
    return None if not database or database == ":memory:" else str(database)


def default_processes(members: int, scenario: Scenario) -> int:
    """Every core for a set (with its control) of ``MIN_MEMBERS_FOR_PROCESSES`` or more
    members whose agents all use the rules brain; else 1 (in-process). Model-backed brains
    wait on the network rather than the CPU, and their per-provider limits (concurrency,
    requests per minute) hold per process: several processes would multiply them."""
    if members < MIN_MEMBERS_FOR_PROCESSES:
        return 1
    if any(scenario.brain_for(a).kind != "rules" for a in scenario.agents):
        return 1
    return os.cpu_count() or 1


def deal(work: Work, processes: int) -> list[list[tuple[str, str]]]:
    """Round-robin shares (each set spread evenly over the workers); empty shares dropped."""
    shares = [list(work[k::processes]) for k in range(processes)]
    return [s for s in shares if s]


async def run_in_processes(
    store: Store,
    path: str,
    work: Work,
    *,
    processes: int,
    concurrency: int,
    on_member_done: Callable[[str], None],
    on_held: Callable[[Held], None] | None = None,
) -> None:
    """Run ``work`` across worker processes; ``on_member_done(set_id)`` in the event loop
    for each member that finished without error, ``on_held`` for what each worker reports
    of members other runners hold. Returns when every worker has exited; on cancellation
    the workers are asked to stop after their current steps."""
    ctx = multiprocessing.get_context("spawn")
    progress: Any = ctx.Queue()
    tenant = tenant_of(store, DEFAULT_TENANT)
    backend = database_of(store)
    snapshot_every = backend.snapshot_every if backend is not None else 500
    workers: list[BaseProcess] = [
        ctx.Process(
            target=_worker,
            args=(path, tenant, snapshot_every, share, concurrency, progress, os.getpid()),
            name=f"aegntix-rollouts-{k}",
            daemon=True,
        )
        for k, share in enumerate(deal(work, processes))
    ]
    loop = asyncio.get_running_loop()

    def forward() -> None:  # each message as soon as it comes, until None
        while (item := progress.get()) is not None:
            if isinstance(item, Held):
                if on_held is not None:
                    loop.call_soon_threadsafe(on_held, item)
            else:  # a set id: one member of it finished
                loop.call_soon_threadsafe(on_member_done, item)

    reader = threading.Thread(target=forward, name="rollout-progress", daemon=True)
    reader.start()
    try:
        for worker in workers:
            worker.start()
        while any(w.is_alive() for w in workers):
            await asyncio.sleep(POLL_S)
        failed = [w.exitcode for w in workers if w.exitcode]
        if failed:
            log.warning("rollout workers exited with errors", exit_codes=failed)
    finally:
        await asyncio.shield(asyncio.to_thread(_stop, workers))
        progress.put(None)  # after what the workers sent (each flushed its queue on exit)
        await asyncio.shield(asyncio.to_thread(reader.join))
        progress.close()
        if not is_postgres_url(path):
            # Speed only, never correctness (see WriterQueue): a run still using it is unharmed.
            WriterQueue(Path(path)).path.unlink(missing_ok=True)
        # Another process wrote these branches: drop this process's cached heads of them.
        if backend is not None:
            backend.forget_caches()


def _stop(workers: Sequence[BaseProcess]) -> None:
    """Ask running workers to stop after their step (SIGTERM), then kill any that linger."""
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        if worker.pid is None:  # never started (starting an earlier one failed)
            continue
        worker.join(STOP_GRACE_S)
        if worker.is_alive():
            worker.kill()
            worker.join()


# -- the worker process --------------------------------------------------------------------
def _die_with_parent(parent_pid: int) -> None:
    """Be killed when the parent dies, so no orphan keeps writing after ``kill -9``."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    else:

        def watch() -> None:
            while os.getppid() == parent_pid:
                threading.Event().wait(0.2)
            os._exit(1)

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if os.getppid() != parent_pid:  # died before the line above took effect
        os._exit(1)


def _worker(
    path: str,
    tenant: str,
    snapshot_every: int,
    share: Work,
    concurrency: int,
    progress: Any,
    parent_pid: int,
) -> None:
    _die_with_parent(parent_pid)
    if is_postgres_url(path):  # row locks order the writers of several processes there
        backend = open_postgres_store(path, snapshot_every=snapshot_every, pool_size=2)
    else:
        backend = open_sqlite_store(path, snapshot_every=snapshot_every, writer_queue=True)
    store: Store = backend
    if tenant != DEFAULT_TENANT:
        from aegntix.timeline.tenancy import TenantStore

        store = TenantStore(backend, tenant)
    try:
        # Stopped (SIGTERM from the parent, or Ctrl-C reaching the whole process group):
        # the runners have recorded ``paused``; exit quietly, the parent reports it.
        with contextlib.suppress(asyncio.CancelledError, KeyboardInterrupt):
            asyncio.run(_run_share(store, share, concurrency, progress))
    finally:
        backend.close()
        progress.close()
        progress.join_thread()


async def _run_share(store: Store, share: Work, concurrency: int, progress: Any) -> None:
    main = asyncio.current_task()
    assert main is not None
    # SIGTERM (the parent stopping): runners stop after their step and record ``paused``.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    scheduler = Scheduler(store, concurrency=concurrency)
    await run_leased(store, scheduler, share, progress.put, progress.put)
