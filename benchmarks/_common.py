"""Shared helpers for the timeline benchmarks: arguments, percentiles, a plain table, the one
JSON line each benchmark prints, and fast history building (through the real writer)."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from aegntix.model.events import EventKind, NewEvent
from aegntix.timeline import SqlStore, open_store

AGENTS = ("a0", "a1", "a2", "a3", "a4")


def parse_args(description: str, *, db: bool = False) -> argparse.Namespace:
    """``db``: the benchmark measures a store and takes ``--db`` (read by :func:`bench_store`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    if not db:
        return parser.parse_args()
    parser.add_argument(
        "--db",
        help="the database to measure: a postgresql:// URL (an empty database or schema) or "
        "a SQLite path; default a new SQLite file in a temporary directory",
    )
    return parser.parse_args()


@contextlib.contextmanager
def bench_store(args: argparse.Namespace, snapshot_every: int = 500) -> Iterator[SqlStore]:
    """The store under measure (``--db``, else a temporary SQLite file), closed at the end."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(args.db or Path(tmp) / "bench.db", snapshot_every=snapshot_every)
        try:
            yield store
        finally:
            store.close()


def backend_name(store: SqlStore) -> str:
    return str(store.engine.dialect.name)


def percentiles_ms(samples_s: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    n = len(ordered)

    def at(p: float) -> float:
        return ordered[min(n - 1, int(p * n))] * 1000

    return {
        "p50_ms": round(at(0.50), 4),
        "p99_ms": round(at(0.99), 4),
        "max_ms": round(ordered[-1] * 1000, 4),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 4),
        "n": n,
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers], *[[_fmt(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for i, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def emit(bench: str, **fields: Any) -> None:
    """The one machine-readable line of a benchmark run."""
    env = {"python": platform.python_version(), "platform": sys.platform}
    print(json.dumps({"bench": bench, **fields, "env": env}, sort_keys=False))


def step_events(step: int) -> list[NewEvent]:
    """One step of a 5-agent scenario: a decision and a message per agent, a world patch."""
    out: list[NewEvent] = []
    for i, agent in enumerate(AGENTS):
        out.append(NewEvent(step, EventKind.DECISION, {"action": "speak", "score": i / 5}, agent))
        out.append(
            NewEvent(
                step, EventKind.MESSAGE, {"text": f"{agent} at step {step}", "to": None}, agent
            )
        )
    patch = {"world.price": 100 + step % 17, f"agents.{AGENTS[step % 5]}.stance": (step % 7) / 7}
    out.append(NewEvent(step, EventKind.WORLD, {"set": patch}))
    return out


EVENTS_PER_STEP = len(step_events(0))


def settle(store: SqlStore) -> None:
    """After building history (setup, not measured): checkpoint the WAL and collect garbage,
    so the measured phase starts from the steady state a long-running store would be in.
    PostgreSQL: fresh planner statistics instead (autovacuum would get there, later)."""
    raw = store.engine.raw_connection()
    sql = (
        "ANALYZE"
        if store.engine.dialect.name == "postgresql"
        else "PRAGMA wal_checkpoint(TRUNCATE)"
    )
    try:
        raw.driver_connection.execute(sql)  # type: ignore[union-attr]
        raw.commit()
    finally:
        raw.close()
    gc.collect()


def build_history(
    store: SqlStore, branch_id: str, n_events: int, *, first_step: int = 0, chunk: int = 10_000
) -> float:
    """Append about ``n_events`` (whole steps from ``first_step``) through the normal writer,
    ``chunk`` events per call; returns events/s."""
    start = time.perf_counter()
    step, written = first_step, 0
    pending: list[NewEvent] = []
    while written + len(pending) < n_events:
        pending.extend(step_events(step))
        step += 1
        if len(pending) >= chunk:
            store.append(branch_id, pending)
            written += len(pending)
            pending = []
    if pending:
        store.append(branch_id, pending)
        written += len(pending)
    return written / (time.perf_counter() - start)
