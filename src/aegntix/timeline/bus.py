"""The event bus: committed events, published by the store, to whoever listens.

The store's writer hands every batch of appended events to its bus right after the commit
(``SqlStore.publish_to``), whoever asked for the append: a server run, an injection, a CLI
run in another process. Listeners (the server's WebSocket hub) get ``(branch_id, events)``
per branch, in commit order.

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
from typing import Protocol

import structlog

from aegntix.errors import InvalidRequest
from aegntix.model.events import Event

log = structlog.get_logger(__name__)

Listener = Callable[[str, Sequence[Event]], None]
"""Called with ``(branch_id, events)`` from any thread: must be quick and thread-safe."""

#: Selects the bus of ``aegntix serve``, ``aegntix run`` and the Python API.
BUS_ENV = "AEGNTIX_BUS"


class Bus(Protocol):
    def publish(self, branch_id: str, events: Sequence[Event]) -> None:
        """Announce ``events`` of ``branch_id`` (committed, in seq order). Never blocks on
        the network and never raises: the writer thread calls it."""
        ...

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every publication (this process's and, for a shared bus,
        other processes'); returns the function that unsubscribes."""
        ...

    def close(self) -> None:
        """Deliver what is pending (bounded wait), then stop. Idempotent."""
        ...


class Listeners:
    """The listener list every bus keeps (copy-on-write: publishing takes no lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: tuple[Listener, ...] = ()

    def add(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners = (*self._listeners, listener)

        def remove() -> None:
            with self._lock:
                self._listeners = tuple(x for x in self._listeners if x is not listener)

        return remove

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
        for branch_id, events in publications:
            self.deliver(branch_id, events)


class LocalBus:
    """In-process bus: ``publish`` calls the listeners at once, in the caller's thread."""

    def __init__(self) -> None:
        self._listeners = Listeners()

    def publish(self, branch_id: str, events: Sequence[Event]) -> None:
        if events:
            self._listeners.deliver(branch_id, events)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._listeners.add(listener)

    def close(self) -> None:
        return None


def publish_committed(bus: Bus, events: Sequence[Event]) -> None:
    """One publication per branch of a committed batch (the writer's events, in order)."""
    by_branch: dict[str, list[Event]] = {}
    for event in events:
        by_branch.setdefault(event.branch_id, []).append(event)
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


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def decode_message(data: bytes | str, origin: str) -> list[tuple[str, list[Event]]]:
    """The ``(branch_id, events)`` publications of a message (one, or a JSON array of them)
    from another process; none for ``origin``'s own (delivered when published).
    ``ValueError`` if unreadable."""
    try:
        body = json.loads(data)
        parts = body if isinstance(body, list) else [body]
        return [
            (str(part["b"]), [Event.from_json(m) for m in part["e"]])
            for part in parts
            if part.get("o") != origin
        ]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a bus message: {exc!r}") from None
