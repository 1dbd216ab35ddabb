"""One worker process: a procrastinate worker running slice jobs, on the timeline's store.

Its appends are published on the shared bus (PostgreSQL ``LISTEN/NOTIFY`` on the same
database unless another bus is named), so WebSocket clients on every API replica see them.
SIGTERM or SIGINT: slices in progress end after their current step and queue their next
slice (another worker takes the branch over at once), and the rollout sets it drives are
handed back to the queue (``drivers.py``); what is still running after the grace
period is aborted and handed back the same way. A ``kill -9`` leaves the slice ``doing``;
the periodic retrier puts it back once this worker's heartbeat is stale, and its lease
expires, so another worker continues from the last whole step.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from dataclasses import dataclass

import structlog

from aegntix.observability import metrics
from aegntix.timeline.opening import opened
from aegntix.timeline.pgbus import PgBus
from aegntix.timeline.sqlstore import SqlStore
from aegntix.workers.census import depths
from aegntix.workers.drivers import SetDrivers
from aegntix.workers.queue import QueueSettings, ensure_schema, make_app
from aegntix.workers.slices import CONTEXT_KEY, new_context, register

log = structlog.get_logger(__name__)

#: Seconds a stopping worker lets its slices finish before aborting (and handing back) them.
SHUTDOWN_GRACE_S = 10.0


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    db: str
    concurrency: int = 4
    bus: str | None = None  # default: LISTEN/NOTIFY on ``db``
    name: str | None = None
    grace_s: float = SHUTDOWN_GRACE_S


def worker_name() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}"


async def run_worker(options: WorkerOptions, settings: QueueSettings | None = None) -> int:
    """Run until SIGTERM/SIGINT; the number of slices run."""
    settings = settings or QueueSettings.from_env()
    await ensure_schema(options.db)
    # LISTEN/NOTIFY on the database itself, publish only: nobody watches a worker's events
    publish_only = PgBus(options.db, listen=False) if options.bus is None else None
    try:
        # create=True: a worker may start before anything else has touched the database
        with opened(options.db, create=True, bus=options.bus or "local") as store:
            if publish_only is not None:
                store.publish_to(publish_only)
            return await _work(store, options, settings)
    finally:
        if publish_only is not None:
            publish_only.close()


async def _work(store: SqlStore, options: WorkerOptions, settings: QueueSettings) -> int:
    name = options.name or worker_name()
    app = make_app(options.db, settings, pool_max=options.concurrency + 3)
    register(app)
    ctx = new_context(store, app, settings)
    ctx.drivers = drivers = SetDrivers(store, app, settings)
    loop = asyncio.get_running_loop()
    unregister = metrics.register_queue_depth(lambda: depths(store))
    async with app.open_async():
        work = asyncio.create_task(
            app.run_worker_async(
                concurrency=options.concurrency,
                name=name,
                install_signal_handlers=False,
                shutdown_graceful_timeout=options.grace_s,
                additional_context={CONTEXT_KEY: ctx},
            )
        )

        def stop(signum: int) -> None:
            log.info("worker stopping", worker=name, signal=signal.Signals(signum).name)
            ctx.stopping.set()
            work.cancel()  # procrastinate then waits for the slices (up to the grace)
            stopping.append(asyncio.create_task(drivers.close()))  # sets to other workers

        stopping: list[asyncio.Task[None]] = []

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop, sig)
        log.info("worker started", worker=name, concurrency=options.concurrency)
        try:
            await work
        except asyncio.CancelledError:
            if not ctx.stopping.is_set():
                raise
        finally:
            await drivers.close()
            await asyncio.gather(*stopping, return_exceptions=True)
            unregister()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
    log.info("worker stopped", worker=name, slices=ctx.slices, steps=ctx.steps)
    return ctx.slices
