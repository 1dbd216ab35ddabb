"""Forking a rollout set's missing members off the event loop, cancellably: the API, the
workers that adopt sets and the CLI fork in a thread, and a shutdown must not wait for all N."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

from aegntix.analysis.records import RolloutRepository, RolloutSet
from aegntix.analysis.rollouts import ensure_members
from aegntix.timeline.store import Store


class _Stopped(Exception):
    """Raised in the forking thread to stop it at the next member."""


async def fork_missing_members(
    store: Store,
    repo: RolloutRepository,
    rollout: RolloutSet,
    *,
    on_member: Callable[[int], None] | None = None,
) -> None:
    """:func:`ensure_members` in a thread. ``on_member`` runs in that thread. Cancelled, it
    stops after the member being forked (a thread cannot be cancelled) and re-raises; the
    set is left partial for ``continue`` or an adopting worker to finish."""
    stop = threading.Event()

    def forked(count: int) -> None:
        if stop.is_set():
            raise _Stopped
        if on_member is not None:
            on_member(count)

    forking = asyncio.ensure_future(
        asyncio.to_thread(ensure_members, store, repo, rollout, on_member=forked)
    )
    try:
        await asyncio.shield(forking)
    except asyncio.CancelledError:
        stop.set()
        with contextlib.suppress(_Stopped):
            await forking
        raise
