"""A :class:`~aegntix.timeline.bus.Bus` over PostgreSQL ``LISTEN/NOTIFY`` (psycopg 3).

Two connections of its own, each served by one thread: a sender that drains what the writer
thread queued (one statement per burst, so a burst costs one round trip and one commit) and a
listener blocked in ``LISTEN``. This process's publications reach its listeners at once, in
the writer thread, and are skipped when PostgreSQL delivers them back.

A NOTIFY payload holds at most 8000 bytes: a publication is split into several messages,
and an event too large for one by itself is not sent (readers fill that gap from the store
at the branch's next event, as for any lost message; ``docs/streaming.md``).
"""

from __future__ import annotations

import contextlib
import queue
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import psycopg
import structlog

from aegntix.errors import InvalidRequest, StoreError
from aegntix.model.events import Event
from aegntix.timeline.bus import (
    Listener,
    Listeners,
    Publication,
    StatusChange,
    StatusListener,
    event_text,
    join_message,
    status_text,
)

log = structlog.get_logger(__name__)

DEFAULT_CHANNEL = "aegntix_events"
#: PostgreSQL's NOTIFY payload limit is 8000 bytes; keep a margin for the envelope.
MAX_PAYLOAD = 7_900
CONNECT_TIMEOUT = 5
CLOSE_TIMEOUT = 5.0
_RETRY_PAUSE = 0.5
_BURST = 256
_CHANNEL_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PgBus:
    def __init__(self, url: str, *, channel: str = DEFAULT_CHANNEL, listen: bool = True) -> None:
        """Connects and listens before returning: ``StoreError`` if PostgreSQL is out of
        reach. ``listen=False``: publish only (a worker process or a CLI command, which no
        client watches, then spends nothing decoding everyone's events), connecting at the
        first publication — a read-only command never opens the connection."""
        if not _CHANNEL_NAME.fullmatch(channel):
            raise InvalidRequest(f"bus channel '{channel}': lower-case letters, digits and _")
        self.url = url
        self.channel = channel
        self.origin = secrets.token_hex(8)
        self._listeners = Listeners()
        self._outbox: queue.SimpleQueue[Publication | None] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        try:
            self._sender: psycopg.Connection[tuple[object, ...]] | None = (
                self._connect() if listen else None
            )
            self._listening = self._listen() if listen else None
        except psycopg.Error as exc:
            raise StoreError(f"bus: cannot reach PostgreSQL at {_safe(url)}: {exc}") from None
        self._threads = [
            threading.Thread(target=self._send_loop, name="aegntix-pg-bus-send", daemon=True)
        ]
        if listen:
            self._threads.append(
                threading.Thread(
                    target=self._listen_loop, name="aegntix-pg-bus-listen", daemon=True
                )
            )
        for thread in self._threads:
            thread.start()

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)

    def _listen(self) -> psycopg.Connection[tuple[object, ...]]:
        conn = self._connect()
        conn.execute(f"LISTEN {self.channel}")  # a checked identifier (cannot be a parameter)
        return conn

    # -- Bus -------------------------------------------------------------------------------
    def publish(self, branch_id: str, events: Sequence[Event]) -> None:
        if not events:
            return
        self._listeners.deliver(branch_id, events)
        with self._lock:
            if not self._closed.is_set():
                self._outbox.put((branch_id, events))  # encoded in the sender thread

    def publish_status(self, change: StatusChange) -> None:
        self._listeners.deliver_status(change)
        with self._lock:
            if not self._closed.is_set():
                self._outbox.put(change)  # behind the events published before it

    def _messages(self, item: Publication) -> Iterator[str]:
        if not isinstance(item, StatusChange):
            yield from self._payloads(*item)
            return
        text = status_text(self.origin, item)
        if len(text.encode()) > MAX_PAYLOAD:  # a long failure detail: readers re-read it
            text = status_text(
                self.origin, StatusChange(item.branch_id, item.status, item.head_seq)
            )
        yield text

    def _payloads(self, branch_id: str, events: Sequence[Event]) -> Iterator[str]:
        """Messages of at most :data:`MAX_PAYLOAD` bytes carrying ``events`` in order (each
        event encoded once)."""
        envelope = len(join_message(self.origin, branch_id, []).encode())
        chunk: list[str] = []
        size = envelope
        for event in events:
            text = event_text(event)
            length = len(text.encode()) + 1  # and its comma
            if envelope + length > MAX_PAYLOAD:
                # routine, not a fault: a reader sees the gap and reads the event from the
                # store (a warning here broke a CLI's one-line error on PostgreSQL)
                log.debug("pg bus: event too large to notify", branch=branch_id, seq=event.seq)
                continue
            if size + length > MAX_PAYLOAD:
                yield join_message(self.origin, branch_id, chunk)
                chunk, size = [], envelope
            chunk.append(text)
            size += length
        if chunk:
            yield join_message(self.origin, branch_id, chunk)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._listeners.add(listener)

    def subscribe_status(self, listener: StatusListener) -> Callable[[], None]:
        return self._listeners.add_status(listener)

    def close(self) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
            self._outbox.put(None)
        for thread in self._threads:
            thread.join(CLOSE_TIMEOUT)
        for conn in (self._sender, self._listening):
            with contextlib.suppress(Exception):
                if conn is not None:
                    conn.close()

    # -- threads -----------------------------------------------------------------------------
    def _send_loop(self) -> None:
        stop = False
        while not stop:
            burst: list[str] = []
            item = self._outbox.get()
            while True:
                if item is None:
                    stop = True
                    break
                burst.extend(self._messages(item))
                if len(burst) >= _BURST:
                    break
                try:
                    item = self._outbox.get_nowait()
                except queue.Empty:
                    break
            if burst:
                self._send(burst)

    def _send(self, burst: list[str]) -> None:
        try:
            if self._sender is None:
                self._sender = self._connect()
            # one statement and one commit deliver the whole burst, in order
            self._sender.execute(
                "SELECT pg_notify(%s, p) FROM unnest(%s::text[]) WITH ORDINALITY AS t(p, i)"
                " ORDER BY i",
                (self.channel, burst),
            )
        except psycopg.Error as exc:  # readers fill the gap from the store
            log.warning("pg bus: notify failed", error=repr(exc), lost=len(burst))
            with contextlib.suppress(psycopg.Error):
                if self._sender is not None:
                    self._sender.close()
                self._sender = self._connect()

    def _listen_loop(self) -> None:
        while not self._closed.is_set():
            listening = self._listening
            if listening is None:
                return
            try:
                for notify in listening.notifies(timeout=0.5):
                    self._listeners.deliver_message(notify.payload, self.origin, "pg")
            except psycopg.Error as exc:
                if self._closed.is_set():
                    return
                log.warning("pg bus: listen failed, reconnecting", error=repr(exc))
                time.sleep(_RETRY_PAUSE)
                with contextlib.suppress(psycopg.Error):
                    listening.close()
                    self._listening = self._listen()


def _safe(url: str) -> str:
    """``url`` without a password."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)
