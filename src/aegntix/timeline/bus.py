"""The event bus: committed events, published by the store, to whoever listens.

The store's writer hands every batch of appended events to its bus right after the commit
(``SqlStore.publish_to``), whoever asked for the append: a server run, an injection, a CLI
run in another process. Listeners (the server's WebSocket hub) get ``(branch_id, events)``
per branch, in commit order. Committed status changes (``Store.set_status``: a worker, the
CLI or the server) travel the same way, as :class:`StatusChange`, in order with the events.

Implementations:

- :class:`LocalBus` (default): in-process, synchronous, for one process on a SQLite file.
- :class:`~aegntix.timeline.redisbus.RedisBus`: Redis pub/sub, so processes sharing a
  database (``aegntix serve`` and an ``aegntix run``) see each other's events.
- :class:`~aegntix.timeline.pgbus.PgBus`: PostgreSQL ``LISTEN/NOTIFY``, the same across
  processes without another server when the database is PostgreSQL.

A bus is best-effort: a lost message is a gap that stream readers fill from the store (they
dedupe by seq), so delivery needs no acknowledgement.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from aegntix.errors import InvalidRequest
from aegntix.model.events import Event

log = structlog.get_logger(__name__)

Listener = Callable[[str, Sequence[Event]], None]
"""Called with ``(branch_id, events)`` from any thread: must be quick and thread-safe."""


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A branch's stored status, as committed."""

    branch_id: str
    status: str
    #: The branch's head when the status was set: its events up to here come before it.
    head_seq: int
    failure: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "head_seq": self.head_seq, "failure": self.failure}


StatusListener = Callable[[StatusChange], None]
"""Called with each committed :class:`StatusChange`, from any thread; quick, thread-safe."""

Publication = tuple[str, Sequence[Event]] | StatusChange
"""What a bus carries: ``(branch_id, events)`` or a status change."""

#: Selects the bus of ``aegntix serve``, ``aegntix run`` and the Python API.
BUS_ENV = "AEGNTIX_BUS"


class Bus(Protocol):
    def publish(self, branch_id: str, events: Sequence[Event]) -> None:
        """Announce ``events`` of ``branch_id`` (committed, in seq order). Never blocks on
        the network and never raises: the writer thread calls it."""
        ...

    def publish_status(self, change: StatusChange) -> None:
        """Announce a committed status change; same rules as :meth:`publish`."""
        ...

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every publication (this process's and, for a shared bus,
        other processes'); returns the function that unsubscribes."""
        ...

    def subscribe_status(self, listener: StatusListener) -> Callable[[], None]:
        """Call ``listener`` for every status change, like :meth:`subscribe`."""
        ...

    def close(self) -> None:
        """Deliver what is pending (bounded wait), then stop. Idempotent."""
        ...


class Listeners:
    """The listener list every bus keeps (copy-on-write: publishing takes no lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: tuple[Listener, ...] = ()
        self._status: tuple[StatusListener, ...] = ()

    def add(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners = (*self._listeners, listener)

        def remove() -> None:
            with self._lock:
                self._listeners = tuple(x for x in self._listeners if x is not listener)

        return remove

    def add_status(self, listener: StatusListener) -> Callable[[], None]:
        with self._lock:
            self._status = (*self._status, listener)

        def remove() -> None:
            with self._lock:
                self._status = tuple(x for x in self._status if x is not listener)

        return remove

    def deliver_status(self, change: StatusChange) -> None:
        for listener in self._status:
            try:
                listener(change)
            except Exception:  # one broken listener must not starve the others
                continue

    def deliver(self, branch_id: str, events: Sequence[Event]) -> None:
        for listener in self._listeners:
            try:
                listener(branch_id, events)
            except Exception:  # one broken listener must not starve the others
                continue

    def deliver_message(self, data: bytes | str, origin: str, bus: str) -> None:
        """A shared bus's message: its publications, but this process's own (``origin``),
        which were delivered when published; an unreadable one is logged and skipped."""
        try:
            publications = decode_message(data, origin)
        except ValueError as exc:
            log.warning(f"{bus} bus: unreadable message skipped", error=repr(exc))
            return
        for publication in publications:
            if isinstance(publication, StatusChange):
                self.deliver_status(publication)
            else:
                self.deliver(*publication)


class LocalBus:
    """In-process bus: ``publish`` calls the listeners at once, in the caller's thread."""

    def __init__(self) -> None:
        self._listeners = Listeners()

    def publish(self, branch_id: str, events: Sequence[Event]) -> None:
        if events:
            self._listeners.deliver(branch_id, events)

    def publish_status(self, change: StatusChange) -> None:
        self._listeners.deliver_status(change)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._listeners.add(listener)

    def subscribe_status(self, listener: StatusListener) -> Callable[[], None]:
        return self._listeners.add_status(listener)

    def close(self) -> None:
        return None


def publish_committed(bus: Bus, committed: Sequence[Event | StatusChange]) -> None:
    """One publication per branch of a committed batch's events, then each status change,
    in commit order (the events before a status change are published before it)."""
    by_branch: dict[str, list[Event]] = {}
    for item in committed:
        if isinstance(item, StatusChange):
            for branch_id, own in by_branch.items():
                bus.publish(branch_id, own)
            by_branch = {}
            bus.publish_status(item)
        else:
            by_branch.setdefault(item.branch_id, []).append(item)
    for branch_id, own in by_branch.items():
        bus.publish(branch_id, own)


def open_bus(url: str | None) -> Bus:
    """The bus ``url`` names: empty or ``local`` for :class:`LocalBus`, ``redis://…`` for
    :class:`~aegntix.timeline.redisbus.RedisBus`. ``InvalidRequest`` for anything else."""
    if not url or url == "local":
        return LocalBus()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from aegntix.timeline.redisbus import RedisBus

        return RedisBus(url)
    if url.startswith(("postgresql://", "postgres://")):
        from aegntix.timeline.pgbus import PgBus

        return PgBus(url)
    raise InvalidRequest(
        f"bus: unknown bus '{url}' (use 'local', redis://host:port/db or postgresql://…)"
    )


def bus_from_env() -> Bus | None:
    """The bus ``AEGNTIX_BUS`` names, or None when it is unset."""
    url = os.environ.get(BUS_ENV, "").strip()
    return open_bus(url) if url else None


# -- the wire form (shared buses) ------------------------------------------------------------
def encode_message(origin: str, branch_id: str, events: Sequence[Event]) -> str:
    """One publication as compact JSON text, naming the process it comes from."""
    return join_message(origin, branch_id, [event_text(e) for e in events])


def event_text(e: Event) -> str:
    """One event's part of a message (so a bus can size messages without re-encoding)."""
    return _compact(e.to_json())


def join_message(origin: str, branch_id: str, texts: Sequence[str]) -> str:
    """The message of events already encoded with :func:`event_text`."""
    return f'{{"o":{_compact(origin)},"b":{_compact(branch_id)},"e":[{",".join(texts)}]}}'


def status_text(origin: str, change: StatusChange) -> str:
    """One status change as a message."""
    return _compact({"o": origin, "b": change.branch_id, "s": change.to_json()})


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def decode_message(data: bytes | str, origin: str) -> list[Publication]:
    """The publications of a message (one, or a JSON array of them) from another process;
    none for ``origin``'s own (delivered when published). ``ValueError`` if unreadable."""
    try:
        body = json.loads(data)
        parts = body if isinstance(body, list) else [body]
        return [_publication(part) for part in parts if part.get("o") != origin]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a bus message: {exc!r}") from None


def _publication(part: dict[str, Any]) -> Publication:
    branch_id = str(part["b"])
    if "s" not in part:
        return branch_id, [Event.from_json(m) for m in part["e"]]
    s = part["s"]
    failure = s.get("failure")
    return StatusChange(
        branch_id,
        str(s["status"]),
        int(s["head_seq"]),
        failure if isinstance(failure, dict) else None,
    )
