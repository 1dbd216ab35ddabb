"""procrastinate's own cost on this machine: no-op jobs drained by worker processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import time

from procrastinate import App

from aegntix.workers.queue import ensure_schema, make_app

NOOP = "bench.noop"


def _app(url: str) -> App:
    app = make_app(url)

    @app.task(name=NOOP, queue="aegntix")
    async def noop(i: int) -> None:
        return None

    del noop
    return app


def _drain(url: str) -> None:
    app = _app(url)

    async def run() -> None:
        async with app.open_async():
            await app.run_worker_async(wait=False, concurrency=4, install_signal_handlers=False)

    asyncio.run(run())


def noop_jobs_per_s(url: str, jobs: int, workers: int) -> float:
    """Defer ``jobs`` no-op jobs, then time ``workers`` processes draining them (their
    start-up, about a second, included: a lower bound)."""
    asyncio.run(ensure_schema(url))
    app = _app(url)

    async def defer() -> None:
        async with app.open_async():
            task = app.tasks[NOOP]
            for start in range(0, jobs, 500):
                batch = [{"i": i} for i in range(start, min(jobs, start + 500))]
                await task.batch_defer_async(*batch)

    asyncio.run(defer())
    context = multiprocessing.get_context("spawn")
    began = time.perf_counter()
    procs = [context.Process(target=_drain, args=(url,)) for _ in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return jobs / (time.perf_counter() - began)
