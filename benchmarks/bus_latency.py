"""The event bus: how long from an append returning to another bus's listener hearing it,
and what announcing costs the writer.

For each bus (in-process, Redis pub/sub at 127.0.0.1:6379, PostgreSQL LISTEN/NOTIFY at
127.0.0.1:5432/test) a store publishes to one bus instance and a second instance on the same
channel listens, as another process would (the in-process bus has one instance). Latency:
one append of one step (11 events) at a time, from ``append`` returning (the events are
durable) to the listener's call. Cost: 11-event appends from 64 threads, with and without
the bus (the listening instance closed first: its decoding is another process's work).
Prints a table and one JSON line ``{"bench": "bus_latency", ...}``.

    .venv/bin/python benchmarks/bus_latency.py
    .venv/bin/python benchmarks/bus_latency.py --quick
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import emit, parse_args, percentiles_ms, step_events, table
from aegntix.model.events import Event
from aegntix.timeline import SqlStore, open_sqlite_store
from aegntix.timeline.bus import Bus, LocalBus
from aegntix.timeline.pgbus import PgBus
from aegntix.timeline.redisbus import RedisBus

BusPair = Callable[[str], tuple[Bus, Bus]]


def _local(_channel: str) -> tuple[Bus, Bus]:
    bus = LocalBus()
    return bus, bus


BUSES: dict[str, BusPair] = {
    "local": _local,
    "redis": lambda c: (
        RedisBus("redis://127.0.0.1:6379/0", channel=c),
        RedisBus("redis://127.0.0.1:6379/0", channel=c),
    ),
    "postgresql": lambda c: (
        PgBus("postgresql://127.0.0.1:5432/test", channel=c),
        PgBus("postgresql://127.0.0.1:5432/test", channel=c),
    ),
}


class _Arrival:
    def __init__(self) -> None:
        self.seen = threading.Event()
        self.at = 0.0
        self.want = 0

    def __call__(self, _branch: str, events: Sequence[Event]) -> None:
        if events[-1].seq >= self.want:
            self.at = time.perf_counter()
            self.seen.set()


def _latency(store: SqlStore, listener: Bus, rounds: int) -> dict[str, Any]:
    arrival = _Arrival()
    listener.subscribe(arrival)
    branch = store.create_branch(store.create_scenario("bus", {}).id, seed=1).id
    samples = []
    for step in range(1, rounds + 1):
        arrival.seen.clear()
        arrival.want = 11 * step
        written = store.append(branch, step_events(step))
        returned = time.perf_counter()
        assert written[-1].seq == arrival.want
        if not arrival.seen.wait(10):
            raise RuntimeError("the listener never heard the append")
        samples.append(max(0.0, arrival.at - returned))
    return percentiles_ms(samples)


def _throughput(store: SqlStore, appenders: int, per: int) -> float:
    scenario = store.create_scenario("load", {}).id
    branches = [store.create_branch(scenario, seed=i).id for i in range(appenders)]

    def work(branch: str) -> None:
        for step in range(1, per + 1):
            store.append(branch, step_events(step))

    start = time.perf_counter()
    with ThreadPoolExecutor(appenders) as pool:
        list(pool.map(work, branches))
    return appenders * per * 11 / (time.perf_counter() - start)


def main() -> None:
    args = parse_args(__doc__ or "")
    rounds, appenders, per = (200, 32, 20) if args.quick else (1_000, 64, 60)
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        plain = open_sqlite_store(Path(tmp) / "plain.db")
        baseline = _throughput(plain, appenders, per)
        plain.close()
        rows.append(["none", "-", "-", "-", round(baseline)])
        for name, make in BUSES.items():
            publisher, listener = make(f"aegntix_bench_{secrets.token_hex(4)}")
            store = open_sqlite_store(Path(tmp) / f"{name}.db")
            store.publish_to(publisher)
            try:
                latency = _latency(store, listener, rounds)
                if listener is not publisher:
                    listener.close()  # its decoding belongs to the other process, not here
                rate = _throughput(store, appenders, per)
            finally:
                store.close()
                publisher.close()
                listener.close()
            rows.append(
                [name, latency["p50_ms"], latency["p99_ms"], latency["max_ms"], round(rate)]
            )
            results.append({"bus": name, **latency, "append_events_per_s": round(rate)})
    table(["bus", "p50 ms", "p99 ms", "max ms", "events/s (64 appenders x 11)"], rows)
    emit("bus_latency", baseline_events_per_s=round(baseline), results=results)


if __name__ == "__main__":
    main()
