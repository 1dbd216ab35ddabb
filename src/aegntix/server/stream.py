"""``WS /v1/branches/{branch_id}/stream``: a branch's events, live, exactly once, in order.

Protocol (``docs/streaming.md``): the server sends ``hello`` first, then every event with
``seq >= from_seq`` (the stored backlog, then live ones) as ``event`` messages, ``status`` on
status changes, ``ping`` every ``ping_interval`` seconds, and ``resync`` when the client fell
so far behind that its live buffer was dropped (it is then re-fed from the store, still
exactly once and in order). The client answers pings with ``{"type": "pong"}``; a client
from which nothing arrives for ``idle_timeout`` seconds is closed with 4408. With
``batch=1`` the messages after ``hello`` that are ready together come as one frame, a JSON
array of them in order (one send per wake-up rather than one per event: a run appends a
step's events at once, and a busy replica's clients fall behind by several).

Exactly once: the connection subscribes to the hub *before* reading the store, so every event
is in the store read, in the live buffer, or both; it tracks the last seq it sent and skips
anything at or below it. A gap in the live feed (a message the bus lost, or a dropped buffer)
sends it back to the store from ``last + 1``; so does a quiet ``ping_interval`` (what a
shared bus lost). Status changes arrive live, from the executor and from the store's bus
(whoever set them, in any process), after the events written before them.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, WebSocket
from starlette.websockets import WebSocketDisconnect

from aegntix.errors import AmbiguousId, BranchNotFound, StoreUnavailable
from aegntix.model.events import Event
from aegntix.security.roles import Action
from aegntix.server.auth import principal_from_websocket
from aegntix.server.backlog import Backlog
from aegntix.server.deps import tenant_store
from aegntix.server.hub import Batch, EventHub, Subscription, event_message, status_message
from aegntix.server.hub import to_json as dumps
from aegntix.timeline.tenancy import TenantStore
from aegntix.workers.executor import Executor, RunState

router = APIRouter()
log = structlog.get_logger(__name__)

# Close codes (4000-4999 are the application's; the last three digits mirror HTTP).
CLOSE_BAD_REQUEST = 4400  # from_seq is not an integer >= 1
CLOSE_UNAUTHORIZED = 4401  # no API key, or an invalid/revoked one
CLOSE_FORBIDDEN = 4403  # the key's role may not read
CLOSE_NOT_FOUND = 4404  # no such branch, or another tenant's (the same answer)
CLOSE_IDLE = 4408  # nothing received from the client within idle_timeout
CLOSE_CONFLICT = 4409  # the id prefix is the start of several branch ids
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN = 1013  # the database cannot answer now (transient): reconnect
CLOSE_GOING_AWAY = 1001  # the hub closed (server shutting down)


@dataclass(frozen=True, slots=True)
class StreamConfig:
    ping_interval: float = 15.0  # seconds between {"type": "ping"} messages
    idle_timeout: float = 45.0  # close (4408) when nothing arrived from the client this long
    page_size: int = 500  # events per store read (each read runs in a worker thread)
    close_timeout: float = 2.0  # how long a close may wait on a client that does not read


def stream_config(app: FastAPI) -> StreamConfig:
    """``app.state.stream_config`` if set, else ``AEGNTIX_WS_PING_INTERVAL`` /
    ``AEGNTIX_WS_IDLE_TIMEOUT`` (seconds) over the defaults."""
    configured = getattr(app.state, "stream_config", None)
    if isinstance(configured, StreamConfig):
        return configured
    default = StreamConfig()
    return StreamConfig(
        ping_interval=_env_seconds("AEGNTIX_WS_PING_INTERVAL", default.ping_interval),
        idle_timeout=_env_seconds("AEGNTIX_WS_IDLE_TIMEOUT", default.idle_timeout),
    )


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if math.isfinite(value) and value > 0 else default


class _End(enum.Enum):
    CLIENT_GONE = "client gone"
    IDLE = "idle"
    HUB_CLOSED = "hub closed"
    NOT_FOUND = "not found"
    UNAVAILABLE = "store unavailable"
    ERROR = "error"


@router.websocket("/v1/branches/{branch_id}/stream")
async def stream_branch(websocket: WebSocket, branch_id: str) -> None:
    """Stream a branch's events from ``from_seq`` (default 1), then live. See the module doc."""
    # Accept first: close codes can only be sent on an open WebSocket (a close before accept
    # is an HTTP 403 for every reason, which a browser cannot tell apart).
    await websocket.accept()
    try:
        principal = await principal_from_websocket(websocket)
    except StoreUnavailable:  # after accept no HTTP answer is possible: a close code says it
        await _close(websocket, *_CLOSE_FOR[_End.UNAVAILABLE], 1.0)
        return
    if principal is None:
        await _close(websocket, CLOSE_UNAUTHORIZED, "an API key is required", 1.0)
        return
    if not principal.role.can(Action.READ):
        await _close(websocket, CLOSE_FORBIDDEN, "this key may not read", 1.0)
        return
    from_seq = _parse_from_seq(websocket.query_params.get("from_seq"))
    if from_seq is None:
        await _close(websocket, CLOSE_BAD_REQUEST, "from_seq must be an integer >= 1", 1.0)
        return
    batch = websocket.query_params.get("batch", "0")
    if batch not in ("0", "1"):
        await _close(websocket, CLOSE_BAD_REQUEST, "batch must be 0 or 1", 1.0)
        return

    app: FastAPI = websocket.app
    config = stream_config(app)
    hub: EventHub = app.state.hub
    store = tenant_store(app, principal)
    runs: Executor = app.state.runs
    try:
        opened: tuple[Subscription, RunState] | _Refused = await _open(hub, runs, store, branch_id)
    except StoreUnavailable:
        opened = _Refused(*_CLOSE_FOR[_End.UNAVAILABLE])
    if isinstance(opened, _Refused):
        await _close(websocket, opened.code, opened.reason, config.close_timeout)
        return
    sub, state = opened
    branch_id = sub.branch_id
    try:
        head = max(state.head_seq, hub.last_seq(branch_id))
        hello: dict[str, Any] = {
            "type": "hello",
            "branch_id": branch_id,
            "from_seq": from_seq,
            "head_seq": head,
            "status": state.status,
        }
        if state.failure is not None:
            hello["failure"] = state.failure.to_json()
        try:
            await websocket.send_text(dumps(hello))
        except (WebSocketDisconnect, OSError):
            return  # gone already
        conn = _Connection(websocket, store, runs, sub, branch_id, config)
        conn.backlog = _shared_backlog(app)
        conn.batched = batch == "1"
        end = await conn.run(from_seq - 1, head, state.status)
    finally:
        sub.close()
    closing = _CLOSE_FOR.get(end)
    if closing is not None:
        await _close(websocket, *closing, config.close_timeout)


@dataclass(frozen=True, slots=True)
class _Refused:
    code: int
    reason: str


async def _open(
    hub: EventHub, runs: Executor, store: TenantStore, ref: str
) -> tuple[Subscription, RunState] | _Refused:
    """Subscribe to the branch ``ref`` names, then read its state (the row and its lease,
    one tenant-scoped read); or why not. The subscription comes before any store read, so
    no event can fall in between. ``ref`` is tried as the full id first (what clients
    send); a prefix costs one more read, resolving it, as on every route."""
    if ref.isascii() and ref.isprintable():  # else no id: the resolver says so
        opened = await _subscribed(hub, runs, store, ref)
        if opened is not None:
            return opened
    try:
        branch_id = await asyncio.to_thread(store.resolve_branch, ref)
    except AmbiguousId as exc:
        return _Refused(CLOSE_CONFLICT, str(exc)[:120])
    except BranchNotFound:
        return _Refused(CLOSE_NOT_FOUND, "no such branch")
    opened = None if branch_id == ref else await _subscribed(hub, runs, store, branch_id)
    return opened or _Refused(CLOSE_NOT_FOUND, "no such branch")  # or deleted meanwhile


async def _subscribed(
    hub: EventHub, runs: Executor, store: TenantStore, branch_id: str
) -> tuple[Subscription, RunState] | None:
    sub = hub.subscribe(branch_id)
    try:
        return sub, await runs.status(store, branch_id)
    except BaseException as exc:
        sub.close()
        if isinstance(exc, BranchNotFound):
            return None
        raise


_CLOSE_FOR: dict[_End, tuple[int, str]] = {
    _End.IDLE: (CLOSE_IDLE, "nothing received within idle_timeout (answer pings with pong)"),
    _End.HUB_CLOSED: (CLOSE_GOING_AWAY, "server shutting down"),
    _End.NOT_FOUND: (CLOSE_NOT_FOUND, "no such branch"),
    _End.UNAVAILABLE: (CLOSE_TRY_AGAIN, "the store cannot answer now: reconnect with from_seq"),
    _End.ERROR: (CLOSE_INTERNAL, "internal error"),
}


MAX_SEQ = 2**63 - 1  # SQLite's INTEGER


def _parse_from_seq(raw: str | None) -> int | None:
    """``from_seq``: absent means 1; else plain ASCII digits, 1 to MAX_SEQ (None: invalid)."""
    if raw is None or raw == "":
        return 1
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_SEQ else None


async def _close(websocket: WebSocket, code: int, reason: str, timeout: float) -> None:
    """Close, unless the client is gone or does not drain its socket within ``timeout``."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(websocket.close(code, reason), timeout)


class _Connection:
    """The three tasks of one open stream: writer (backlog + live), reader (pongs, idle
    timeout, disconnect) and pinger. The first to finish ends the connection."""

    def __init__(
        self,
        websocket: WebSocket,
        store: TenantStore,
        runs: Executor,
        sub: Subscription,
        branch_id: str,
        config: StreamConfig,
    ) -> None:
        self.ws = websocket
        self.store = store
        self.runs = runs
        self.sub = sub
        self.branch_id = branch_id
        self.config = config
        self.backlog: Backlog | None = None
        self.batched = False  # several messages per frame, as a JSON array (``batch=1``)

    async def run(self, last_sent: int, head: int, status: str) -> _End:
        tasks = {
            asyncio.create_task(self._writer(last_sent, head, status)),
            asyncio.create_task(self._reader()),
            asyncio.create_task(self._pinger()),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        task = done.pop()
        if task.cancelled():
            return _End.CLIENT_GONE
        error = task.exception()
        if error is None:
            return task.result()
        if isinstance(error, WebSocketDisconnect | OSError):
            return _End.CLIENT_GONE
        if isinstance(error, BranchNotFound):  # its scenario was deleted meanwhile
            return _End.NOT_FOUND
        if isinstance(error, StoreUnavailable):
            log.warning("stream: store unavailable", branch=self.branch_id, error=repr(error))
            return _End.UNAVAILABLE
        log.error("stream failed", branch=self.branch_id, error=repr(error))
        return _End.ERROR

    # -- writer ----------------------------------------------------------------------------
    async def _writer(self, last: int, head: int, status: str) -> _End:
        """Send the backlog after ``last`` up to ``head`` (read after subscribing: what
        comes after it is in the live feed), then live messages; back to the store on a gap
        or an overflow, and after ``ping_interval`` without live messages (what a shared
        bus lost arrives that way)."""
        send = self.ws.send_text
        sub = self.sub
        last = await self._first_backlog(last, head)
        while True:
            if not await sub.wait(self.config.ping_interval):
                last, status = await self._catch_up(last, status)
                continue
            if sub.closed:
                return _End.HUB_CLOSED
            batches, overflowed = sub.take()
            gap = overflowed
            if overflowed:
                await send(dumps({"type": "resync", "from_seq": last + 1}))
            else:
                texts, last, gap, status = _live(batches, last, status)
                await self._emit(texts)
            if gap:
                last, status = await self._catch_up(last, status)

    async def _first_backlog(self, last: int, head: int) -> int:
        """Events ``last + 1 .. head`` from the replica's shared :class:`Backlog` (one store
        read per branch for the streams that connect together); paged from the store when
        too long to cache. Returns the last seq sent."""
        if last >= head:
            return last  # nothing stored to send: the live feed has the rest
        cached = (
            ()
            if self.backlog is None
            else await self.backlog.upto(self.store, self.branch_id, head)
        )
        due = cached[last:]  # seqs 1, 2, … : the one after ``last`` is at index ``last``
        if due:
            await self._emit([text for _, text in due])
            last = due[-1][0]
        return last if last >= head else await self._backlog(last)

    async def _backlog(self, last: int) -> int:
        """Send stored events with seq > ``last`` (to the head as of now), page by page; the
        reads run in a worker thread. Returns the last seq sent."""
        pages = await asyncio.to_thread(_open_events, self.store, self.branch_id, last + 1)
        size = self.config.page_size
        while True:
            page = await asyncio.to_thread(_next_page, pages, size)
            due = [event for event in page if event.seq > last]
            if due:
                await self._emit([event_message(event) for event in due])
                last = due[-1].seq
            if len(page) < size:
                return last

    async def _emit(self, texts: list[str]) -> None:
        """Send messages in order: one frame each, or (``batch=1``) as JSON arrays of at most
        :data:`FRAME_TEXT` characters — one send per wake-up instead of one per event."""
        send = self.ws.send_text
        if not self.batched or len(texts) == 1:
            for text in texts:
                await send(text)
            return
        for frame in _frames(texts):
            await send(frame)

    async def _catch_up(self, last: int, status: str) -> tuple[int, str]:
        """Back to the store (a gap, an overflow, a quiet ``ping_interval``): the branch's
        state first, then the events after ``last`` up to the head as of now — none read
        when the head is where it was (a quiet branch: one read, not three) — then its
        status if it changed (status messages in between may have been dropped; it holds
        at a head the events sent reach). The last seq sent and the status."""
        state = await self.runs.status(self.store, self.branch_id)
        if state.head_seq > last:
            last = await self._backlog(last)
        current = state.status
        if current != status:
            failure = None if state.failure is None else state.failure.to_json()
            await self.ws.send_text(status_message(current, failure))
        return last, current

    # -- reader and pinger -------------------------------------------------------------------
    async def _reader(self) -> _End:
        """Any message from the client proves it is alive (it should send ``pong``s)."""
        receive = self.ws.receive
        timeout = self.config.idle_timeout
        while True:
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except TimeoutError:
                return _End.IDLE
            if message["type"] == "websocket.disconnect":
                return _End.CLIENT_GONE

    async def _pinger(self) -> _End:
        interval = self.config.ping_interval
        while True:
            await asyncio.sleep(interval)
            await self.ws.send_text(dumps({"type": "ping", "t": time.time()}))


def _live(batches: list[Batch], last: int, status: str) -> tuple[list[str], int, bool, str]:
    """The buffered live messages to send, in order, skipping seqs already sent and a status
    the client has; the last seq then sent, whether a gap was found (the rest is then left
    to the store: a status set past the last event sent is one), and the status."""
    out: list[str] = []
    for batch in batches:
        for seq, text in batch:
            if seq <= 0:
                if -seq > last:  # its events are not all here: the store has them, then it
                    return out, last, True, status
                current = _status_of(text)
                if current != status:  # the executor and the store's bus may both tell it
                    out.append(text)
                    status = current
            elif seq == last + 1:
                out.append(text)
                last = seq
            elif seq > last:
                return out, last, True, status
    return out, last, False, status


FRAME_TEXT = 256 * 1024  # characters of messages per batched frame (a browser takes far more)


def _frames(texts: list[str]) -> Iterator[str]:
    """``texts`` (JSON messages) joined into JSON arrays of at most :data:`FRAME_TEXT`
    characters each (a longer message is a frame alone)."""
    chunk: list[str] = []
    size = 0
    for text in texts:
        if chunk and size + len(text) > FRAME_TEXT:
            yield f"[{','.join(chunk)}]"
            chunk, size = [], 0
        chunk.append(text)
        size += len(text) + 1
    if chunk:
        yield f"[{','.join(chunk)}]"


def _status_of(text: str) -> str:
    status = json.loads(text).get("status")  # rare: status changes only
    return str(status)


def _shared_backlog(app: FastAPI) -> Backlog:
    backlog = getattr(app.state, "stream_backlog", None)
    if not isinstance(backlog, Backlog):
        backlog = app.state.stream_backlog = Backlog()
    return backlog


def _open_events(store: TenantStore, branch_id: str, from_seq: int) -> Iterator[Event]:
    return iter(store.events(branch_id, from_seq=from_seq))


def _next_page(events: Iterator[Event], size: int) -> list[Event]:
    return list(islice(events, size))
