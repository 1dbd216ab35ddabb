"""``WS /v1/rollouts/{set_id}/stream``: a rollout set's progress, live (docs/streaming.md).

The server sends ``hello`` (the set and its control, as ``GET /v1/rollouts/{id}`` answers),
then ``progress`` whenever members of either set were forked or finished, then ``settled``
(both records again, with their final status) and closes with 1000. A set that is not running
gets ``hello`` then ``settled`` at once.

Progress comes from the :class:`ProgressBoard` (``app.state.rollout_board``): the set's
background task writes counts into it (an O(watchers) dict update, no I/O) and each
connection reads the latest counts at most every ``min_interval`` seconds, so a 1,000-member
set finishing members hundreds of times a second costs each client at most ten frames a
second; counts in between are coalesced, never queued. On a replica that does not drive the
set (PostgreSQL, several replicas), ``rollout_mirror.py`` writes the board from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import structlog
from fastapi import FastAPI, WebSocket
from starlette.websockets import WebSocketDisconnect

from aegntix.analysis.driving import driven
from aegntix.analysis.records import RolloutSet
from aegntix.analysis.rollouts import repository, set_json
from aegntix.errors import AmbiguousId, RolloutSetNotFound, StoreUnavailable
from aegntix.security.roles import Action
from aegntix.server.auth import principal_from_websocket
from aegntix.server.deps import tenant_store
from aegntix.server.hub import to_json
from aegntix.server.rollout_mirror import Mirrors
from aegntix.server.stream import (
    CLOSE_CONFLICT,
    CLOSE_FORBIDDEN,
    CLOSE_GOING_AWAY,
    CLOSE_IDLE,
    CLOSE_INTERNAL,
    CLOSE_NOT_FOUND,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHORIZED,
    stream_config,
)
from aegntix.timeline.tenancy import TenantStore

log = structlog.get_logger(__name__)

#: Seconds between two progress frames to one client (at most 10 a second).
DEFAULT_MIN_INTERVAL = 0.1
CLOSE_NORMAL = 1000


class Phase(enum.StrEnum):
    FORKING = "forking"  # the members' branches are being created
    RUNNING = "running"
    SETTLED = "settled"  # the background task ended (the record's status says how)


@dataclass(frozen=True, slots=True)
class Progress:
    phase: Phase
    done: int  # members finished
    total: int  # members in the set
    forked: int  # members whose branch exists
    step: float | None = None  # the mean step the members that ran in this run are at

    def json(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "done": self.done,
            "forked": self.forked,
            "total": self.total,
            "step": None if self.step is None else round(self.step, 2),
        }


class ProgressBoard:
    """The latest progress of every set this process runs, and who watches it. Everything
    runs on the event loop thread; nothing is locked."""

    def __init__(self) -> None:
        self._progress: dict[str, Progress] = {}
        self._errors: dict[str, str] = {}
        self._steps: dict[str, dict[str, int]] = {}  # set -> member branch -> its last step
        self._step_sums: dict[str, int] = {}
        self._watchers: dict[str, set[asyncio.Event]] = {}
        self._mirrored: set[str] = set()  # sets another replica drives (rollout_mirror.py)
        self.closed = False

    def begin(self, set_id: str, *, done: int, total: int, forked: int) -> None:
        self._errors.pop(set_id, None)
        self._mirrored.discard(set_id)  # driven here from now on
        self._steps[set_id] = {}
        self._step_sums[set_id] = 0
        phase = Phase.FORKING if forked < total else Phase.RUNNING
        self._put(set_id, Progress(phase, done, total, forked))

    def forked(self, set_id: str, forked: int) -> None:
        if (p := self._progress.get(set_id)) is not None:
            self._put(set_id, replace(p, forked=max(p.forked, forked)))

    def running(self, set_id: str, done: int, total: int) -> None:
        """Also the ``on_progress`` callback of ``run_sets``."""
        p = self._progress.get(set_id)
        self._put(set_id, Progress(Phase.RUNNING, done, total, total, p.step if p else None))

    def stepped(self, set_id: str, branch_id: str, step: int) -> None:
        """A member finished ``step`` (O(1): a running sum of the members' steps)."""
        p = self._progress.get(set_id)
        if p is None:
            return
        steps = self._steps.setdefault(set_id, {})
        self._step_sums[set_id] = self._step_sums.get(set_id, 0) + step - steps.get(branch_id, 0)
        steps[branch_id] = step
        self._put(set_id, replace(p, step=self._step_sums[set_id] / len(steps)))

    def settle(self, set_id: str, error: str | None = None) -> None:
        if error is not None:
            self._errors[set_id] = error
        p = self._progress.get(set_id) or Progress(Phase.SETTLED, 0, 0, 0)
        self._put(set_id, replace(p, phase=Phase.SETTLED))

    def mirror(
        self, set_id: str, *, done: int, total: int, forked: int, step: float | None
    ) -> None:
        """Counts of a set another replica drives, read from the database."""
        p = self._progress.get(set_id)
        if p is not None and p.phase is not Phase.SETTLED and set_id not in self._mirrored:
            return  # this replica drives it: its own counts are the live ones
        self._mirrored.add(set_id)
        phase = Phase.FORKING if forked < total else Phase.RUNNING
        progress = Progress(phase, done, total, forked, step)
        if progress != p:
            self._put(set_id, progress)

    def unmirror(self, set_id: str, *, settled: bool) -> None:
        """Stop mirroring the set: settled (its driver let go) or forgotten (nobody watches)."""
        if set_id not in self._mirrored:
            return
        self._mirrored.discard(set_id)
        if settled:
            self.settle(set_id)
        else:
            self._progress.pop(set_id, None)

    def get(self, set_id: str) -> Progress | None:
        return self._progress.get(set_id)

    def is_running(self, set_id: str) -> bool:
        p = self._progress.get(set_id)
        return p is not None and p.phase is not Phase.SETTLED

    def error(self, set_id: str) -> str | None:
        """Why the last run of the set stopped before its members ran (this process)."""
        return self._errors.get(set_id)

    def _put(self, set_id: str, progress: Progress) -> None:
        self._progress[set_id] = progress
        for changed in self._watchers.get(set_id, ()):
            changed.set()

    def watch(self, set_ids: Iterable[str]) -> asyncio.Event:
        """An event set on every change of any of ``set_ids`` (and on close)."""
        changed = asyncio.Event()
        for set_id in set_ids:
            self._watchers.setdefault(set_id, set()).add(changed)
        return changed

    def unwatch(self, changed: asyncio.Event) -> None:
        for set_id, watchers in list(self._watchers.items()):
            watchers.discard(changed)
            if not watchers:
                del self._watchers[set_id]

    def watcher_count(self) -> int:
        return len({id(e) for w in self._watchers.values() for e in w})

    def close(self) -> None:
        """Wake every watcher (server shutdown): their streams close with 1001."""
        self.closed = True
        for watchers in self._watchers.values():
            for changed in watchers:
                changed.set()


def board_of(app: FastAPI) -> ProgressBoard:
    board: ProgressBoard | None = getattr(app.state, "rollout_board", None)
    if board is None:
        board = app.state.rollout_board = ProgressBoard()
    return board


def mirrors_of(app: FastAPI) -> Mirrors:
    """The readers of sets other replicas drive (``rollout_mirror.py``)."""
    mirrors: Mirrors | None = getattr(app.state, "rollout_mirrors", None)
    if mirrors is None:
        mirrors = app.state.rollout_mirrors = Mirrors(board_of(app))
    return mirrors


def min_interval(app: FastAPI) -> float:
    """``app.state.rollout_min_interval`` if set (tests), else the default."""
    value = getattr(app.state, "rollout_min_interval", None)
    return float(value) if isinstance(value, int | float) else DEFAULT_MIN_INTERVAL


def set_out(app: FastAPI, store: TenantStore, rollout: RolloutSet) -> dict[str, Any]:
    """The set as the API shows it: its record, progress, whether it runs now, and why its
    last run stopped early (if it did)."""
    board = board_of(app)
    return {
        **set_json(store, rollout),
        "running": board.is_running(rollout.id) or bool(driven(store.backend, [rollout.id])),
        "error": board.error(rollout.id) or rollout.error,
    }


def _records(app: FastAPI, store: TenantStore, set_id: str) -> dict[str, Any]:
    repo = repository(store)
    rollout = repo.get(set_id)
    control = repo.get(rollout.control_id) if rollout.control_id else None
    return {
        "set": set_out(app, store, rollout),
        "control": set_out(app, store, control) if control is not None else None,
    }


def _progress_message(board: ProgressBoard, set_id: str, control_id: str | None) -> str:
    def one(sid: str | None) -> dict[str, Any] | None:
        p = board.get(sid) if sid else None
        return None if p is None or sid is None else {"id": sid, **p.json()}

    return to_json({"type": "progress", "set": one(set_id), "control": one(control_id)})


async def stream_rollout(websocket: WebSocket, set_id: str) -> None:
    """Stream a set's progress until it settles. See the module doc."""
    await websocket.accept()  # close codes need an open WebSocket (see stream.py)
    try:
        await _stream(websocket, set_id)
    except StoreUnavailable as exc:  # transient: the client reconnects, as for branches
        log.warning("rollout stream: store unavailable", set=set_id, error=repr(exc))
        await _close(websocket, CLOSE_TRY_AGAIN, "the store cannot answer now: reconnect")
    except Exception as exc:  # said in the log with the set's id, never a silent 1011
        log.error("rollout stream failed", set=set_id, error=repr(exc))
        await _close(websocket, CLOSE_INTERNAL, "internal error")


async def _stream(websocket: WebSocket, set_id: str) -> None:
    principal = await principal_from_websocket(websocket)
    if principal is None:
        await _close(websocket, CLOSE_UNAUTHORIZED, "an API key is required")
        return
    if not principal.role.can(Action.READ):
        await _close(websocket, CLOSE_FORBIDDEN, "this key may not read")
        return
    app: FastAPI = websocket.app
    store = tenant_store(app, principal)
    board = board_of(app)
    try:
        set_id = await asyncio.to_thread(repository(store).resolve, set_id)
        control_id = (await asyncio.to_thread(repository(store).get, set_id)).control_id
    except RolloutSetNotFound:
        await _close(websocket, CLOSE_NOT_FOUND, "no such rollout set")
        return
    except AmbiguousId as exc:
        await _close(websocket, CLOSE_CONFLICT, str(exc)[:120])
        return
    ids = [set_id] + ([control_id] if control_id else [])
    changed = board.watch(ids)  # before the snapshot: no change can fall in between
    mirrored = False
    try:
        if not board.is_running(set_id):  # driven by another replica, if by any
            mirrored = await mirrors_of(app).follow(store, ids)
        hello = await asyncio.to_thread(_records, app, store, set_id)
        await websocket.send_text(to_json({"type": "hello", **hello}))
        end = await _follow(websocket, store, board, changed, set_id, control_id)
    except (WebSocketDisconnect, OSError):
        return
    finally:
        board.unwatch(changed)
        if mirrored:
            mirrors_of(app).unfollow(ids)
    await _close(websocket, *end)


async def _follow(
    websocket: WebSocket,
    store: TenantStore,
    board: ProgressBoard,
    changed: asyncio.Event,
    set_id: str,
    control_id: str | None,
) -> tuple[int, str]:
    """Progress frames (coalesced) until the set settles, the client leaves or goes quiet,
    or the server shuts down. Returns the close code and reason."""
    app: FastAPI = websocket.app
    config = stream_config(app)
    interval = min_interval(app)
    reader = asyncio.create_task(_read_until_gone(websocket, config.idle_timeout))
    try:
        last_ping = time.monotonic()
        while True:
            if board.closed:
                return CLOSE_GOING_AWAY, "server shutting down"
            if not board.is_running(set_id):
                final = await asyncio.to_thread(_records, app, store, set_id)
                await websocket.send_text(to_json({"type": "settled", **final}))
                return CLOSE_NORMAL, "settled"
            waiter = asyncio.ensure_future(changed.wait())
            done, _ = await asyncio.wait(
                {waiter, reader}, timeout=config.ping_interval, return_when="FIRST_COMPLETED"
            )
            waiter.cancel()
            if reader in done:
                if reader.exception() is not None:
                    raise WebSocketDisconnect(1000)  # the client left
                return CLOSE_IDLE, "nothing received within idle_timeout (answer pings)"
            if not done or time.monotonic() - last_ping >= config.ping_interval:
                await websocket.send_text(to_json({"type": "ping", "t": time.time()}))
                last_ping = time.monotonic()
            if changed.is_set():
                changed.clear()
                if board.is_running(set_id) and not board.closed:
                    await websocket.send_text(_progress_message(board, set_id, control_id))
                await asyncio.sleep(interval)  # changes meanwhile coalesce into one frame
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def _read_until_gone(websocket: WebSocket, idle_timeout: float) -> None:
    """Returns when the client is silent for ``idle_timeout``; raises when it disconnects."""
    while True:
        try:
            message = await asyncio.wait_for(websocket.receive(), idle_timeout)
        except TimeoutError:
            return
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(websocket.close(code, reason), 2.0)
