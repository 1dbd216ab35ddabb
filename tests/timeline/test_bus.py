"""The event bus: the store announces what it committed, once, in order; Redis and
PostgreSQL carry it to other processes' listeners (the servers at 127.0.0.1:6379 and
127.0.0.1:5432, database ``test``, are used for real)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aegntix.cli import app
from aegntix.errors import BranchBusy, BranchNotFound, InvalidRequest, StoreError
from aegntix.model.events import BranchStatus, Event, Failure
from aegntix.timeline import SqlStore, open_sqlite_store
from aegntix.timeline.bus import BUS_ENV, Bus, LocalBus, StatusChange, open_bus
from aegntix.timeline.opening import opened
from aegntix.timeline.pgbus import PgBus
from aegntix.timeline.redisbus import RedisBus
from tests.support import EXAMPLES
from tests.timeline.helpers import msg, root

REDIS_URL = "redis://127.0.0.1:6379/0"
PG_URL = "postgresql://127.0.0.1:5432/test"

SharedBus = Callable[[str], Bus]


@pytest.fixture(params=["redis", "postgresql"])
def shared_bus(request: pytest.FixtureRequest) -> SharedBus:
    """Makes buses of one kind on a channel; every test uses a channel of its own."""
    if request.param == "redis":
        return lambda channel: RedisBus(REDIS_URL, channel=channel)
    return lambda channel: PgBus(PG_URL, channel=channel.replace(":", "_").replace("-", "_"))


class Heard:
    """A listener that records what it was told, from whatever thread; ``follow`` also
    records status changes, in order with the events (``said``)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Event]]] = []
        self.said: list[Event | StatusChange] = []
        self._lock = threading.Lock()

    def __call__(self, branch_id: str, events: Sequence[Event]) -> None:
        with self._lock:
            self.calls.append((branch_id, list(events)))
            self.said.extend(events)

    def status(self, change: StatusChange) -> None:
        with self._lock:
            self.said.append(change)

    def follow(self, bus: Bus) -> None:
        bus.subscribe(self)
        bus.subscribe_status(self.status)

    def wait_said(self, count: int, limit: float = 20.0) -> list[Event | StatusChange]:
        deadline = time.monotonic() + limit
        while len(self.said) < count:
            assert time.monotonic() < deadline, f"heard {len(self.said)}/{count}"
            time.sleep(0.01)
        with self._lock:
            return list(self.said)

    def events(self, branch_id: str) -> list[Event]:
        with self._lock:
            return [e for b, got in self.calls if b == branch_id for e in got]

    def wait_for(self, branch_id: str, count: int, limit: float = 20.0) -> list[Event]:
        deadline = time.monotonic() + limit
        while len(self.events(branch_id)) < count:
            assert time.monotonic() < deadline, f"heard {len(self.events(branch_id))}/{count}"
            time.sleep(0.01)
        return self.events(branch_id)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = open_sqlite_store(tmp_path / "bus.db")
    yield s
    s.close()


def test_the_store_announces_each_commit_once_per_branch_in_order(store: SqlStore) -> None:
    heard = Heard()
    store.publish_to(LocalBus()).subscribe(heard)
    a, b = root(store), root(store)
    written = store.append(a, [msg(1, "one"), msg(1, "two")])
    written += store.append(a, [msg(2, "three")])
    other = store.append(b, [msg(1, "elsewhere")])
    with pytest.raises(BranchBusy):  # a refused append announces nothing
        store.append(a, [msg(3, "stale")], expect_seq=1)
    assert heard.events(a) == written
    assert heard.events(b) == other
    assert all(len({e.branch_id for e in got}) == 1 for _, got in heard.calls)


def _a_run(store: SqlStore, branch_id: str) -> list[Event | StatusChange]:
    """Status changes and appends as a run makes them; what the bus should say, in order."""
    store.set_status(branch_id, BranchStatus.RUNNING)
    first = store.append(branch_id, [msg(1, "one"), msg(1, "two")])
    store.set_status(branch_id, BranchStatus.DONE)
    failure = Failure("ProviderError", "the model server is gone", 2)
    store.set_status(branch_id, BranchStatus.FAILED, failure=failure)
    return [
        StatusChange(branch_id, "running", 0),
        *first,
        StatusChange(branch_id, "done", 2),
        StatusChange(branch_id, "failed", 2, failure.to_json()),
    ]


def test_status_changes_are_announced_on_commit_in_order_with_the_events(
    store: SqlStore,
) -> None:
    heard = Heard()
    heard.follow(store.publish_to(LocalBus()))
    branch_id = root(store)
    said = _a_run(store, branch_id)
    with pytest.raises(BranchNotFound):  # a refused change announces nothing
        store.set_status("no-such-branch", BranchStatus.DONE)
    assert heard.said == said


def test_a_shared_bus_carries_events_and_status_changes_to_another_bus_not_back(
    store: SqlStore, shared_bus: SharedBus
) -> None:
    channel = f"aegntix_test_{secrets.token_hex(6)}"
    here, there = shared_bus(channel), shared_bus(channel)
    try:
        heard_here, heard_there = Heard(), Heard()
        heard_here.follow(here)
        heard_there.follow(there)
        store.publish_to(here)
        branch_id = root(store)
        written = [e for step in range(1, 21) for e in store.append(branch_id, [msg(step)])]
        said = [*written, *_a_run(store, root(store))]
        assert heard_there.wait_said(len(said)) == said
        assert heard_here.said == said  # at once, and no echo
        time.sleep(0.2)  # an echo would have arrived by now
        assert heard_here.said == said
    finally:
        store.close()
        here.close()
        there.close()


def test_closing_the_publisher_delivers_what_it_still_held(
    store: SqlStore, shared_bus: SharedBus
) -> None:
    channel = f"aegntix_test_{secrets.token_hex(6)}"
    listener_bus = shared_bus(channel)
    heard = Heard()
    listener_bus.subscribe(heard)
    publisher = shared_bus(channel)
    try:
        store.publish_to(publisher)
        branch_id = root(store)
        written = store.append(branch_id, [msg(1, f"m{i}") for i in range(500)])
        store.close()
        publisher.close()  # right away: nothing queued may be dropped
        assert heard.wait_for(branch_id, len(written)) == written
    finally:
        listener_bus.close()


def test_postgresql_splits_what_one_notify_cannot_hold(store: SqlStore) -> None:
    channel = f"aegntix_test_{secrets.token_hex(6)}"
    listener_bus, publisher = PgBus(PG_URL, channel=channel), PgBus(PG_URL, channel=channel)
    heard = Heard()
    listener_bus.subscribe(heard)
    try:
        store.publish_to(publisher)
        branch_id = root(store)
        big = store.append(branch_id, [msg(1, "x" * 3_000) for _ in range(10)])  # ~30 kB
        store.append(branch_id, [msg(2, "y" * 9_000)])  # more than any NOTIFY holds
        last = store.append(branch_id, [msg(3, "after")])
        assert heard.wait_for(branch_id, len(big) + 1) == [*big, *last]
    finally:
        store.close()
        publisher.close()
        listener_bus.close()


def test_bus_urls_are_checked_with_one_line_errors() -> None:
    assert isinstance(open_bus(""), LocalBus) and isinstance(open_bus("local"), LocalBus)
    with pytest.raises(InvalidRequest, match="unknown bus"):
        open_bus("kafka://127.0.0.1:9092")
    with pytest.raises(StoreError, match="cannot reach Redis"):
        RedisBus("redis://127.0.0.1:1/0")
    with pytest.raises(StoreError, match="cannot reach PostgreSQL"):
        open_bus("postgresql://nobody:secret@127.0.0.1:1/test")
    with pytest.raises(InvalidRequest, match="bus channel"):
        PgBus(PG_URL, channel="Robert'); DROP TABLE events;--")


def test_opened_takes_the_bus_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BUS_ENV, REDIS_URL)
    with opened(str(tmp_path / "env.db"), create=True) as store:
        assert isinstance(store.bus, RedisBus)
    monkeypatch.delenv(BUS_ENV)
    with opened(str(tmp_path / "env.db")) as store:
        assert store.bus is None


def test_a_bad_bus_is_one_line_and_creates_no_database(tmp_path: Path) -> None:
    db = tmp_path / "never.db"
    for bad in ("bogus://x", "redis://127.0.0.1:1/0"):
        done = CliRunner().invoke(
            app, ["run", str(EXAMPLES / "town-hall.yaml"), "--db", str(db)], env={BUS_ENV: bad}
        )
        assert done.exit_code != 0
        lines = done.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: bus:"), done.output
    assert not db.exists()


def test_a_publish_only_postgresql_bus_sends_and_hears_nothing(store: SqlStore) -> None:
    channel = f"aegntix_test_{secrets.token_hex(6)}"
    listener_bus = PgBus(PG_URL, channel=channel)
    publisher = PgBus(PG_URL, channel=channel, listen=False)  # as a worker process runs it
    heard, echoed = Heard(), Heard()
    listener_bus.subscribe(heard)
    publisher.subscribe(echoed)
    other = PgBus(PG_URL, channel=channel)
    try:
        store.publish_to(publisher)
        branch_id = root(store)
        events = store.append(branch_id, [msg(1, "hello")])
        assert heard.wait_for(branch_id, len(events)) == events  # others hear it
        other.publish(branch_id, events)  # another process's publication
        assert heard.wait_for(branch_id, 2 * len(events))  # the listener hears both
        assert echoed.events(branch_id) == events  # its own, delivered locally; not other's
    finally:
        store.close()
        for bus in (publisher, listener_bus, other):
            bus.close()
