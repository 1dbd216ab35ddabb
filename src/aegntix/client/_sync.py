"""Blocking calls into the async engine, also from code that already runs an event loop.

Jupyter (and any asyncio program) runs a loop in the main thread, where ``asyncio.run``
refuses to start a second one. There the coroutine runs on a private loop in a worker
thread, and the caller's thread waits for it: a notebook cell blocks until the work is done,
as a plain script's call does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def loop_running() -> bool:
    """Whether this thread is inside a running event loop (a notebook cell, an async app)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_blocking(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to completion and return its result (or raise its error)."""
    if not loop_running():
        return asyncio.run(work)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="aegntix-loop") as worker:
        return worker.submit(asyncio.run, work).result()
