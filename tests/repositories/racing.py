"""Run two writers at once: each in its own thread, released together by a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar, cast

T = TypeVar("T")


def race(*writers: Callable[[], T]) -> list[T]:
    """Start every writer at the same moment; their results in order. A writer's exception
    is re-raised here (the contract is: no error)."""
    barrier = threading.Barrier(len(writers))
    results: list[T | None] = [None] * len(writers)
    errors: list[BaseException] = []

    def run(i: int, writer: Callable[[], T]) -> None:
        barrier.wait()
        try:
            results[i] = writer()
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return cast(list[T], results)
