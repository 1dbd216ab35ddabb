"""PostgreSQL pieces of ``backends.py``: a scratch database per run, the raw-psycopg floors
(the same rows, inserted with no store in between: events for appends, one branch row and
its commit for a fork), and appends from N writing processes."""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from _common import step_events
from aegntix.timeline import open_store
from aegntix.timeline.postgres import shown_url

FLOOR_TABLE = "floor_events"
FLOOR_BRANCHES = "floor_branches"


def _server_dsn(url: str, database: str) -> str:
    """A libpq DSN for ``database`` on the server ``url`` names (its options kept)."""
    target = make_url(url).set(drivername="postgresql", database=database)
    return target.render_as_string(hide_password=False)


@contextlib.contextmanager
def scratch_database(server_url: str, options: str | None) -> Iterator[str]:
    """A new database ``aegntix_bench_<random>`` on ``server_url``, dropped at the end;
    yields its URL (with ``options``, e.g. ``-csynchronous_commit=off``, for every session)."""
    name = f"aegntix_bench_{secrets.token_hex(4)}"
    admin = _server_dsn(server_url, "postgres")
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SystemExit(
            f"cannot create a scratch database on {shown_url(server_url)} "
            f"(--pg / AEGNTIX_BENCH_PG; scripts/ensure-postgres starts one): {first}"
        ) from None
    url = make_url(server_url).set(database=name)
    if options:
        url = url.update_query_dict({"options": options})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _columns(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'events' AND table_schema = current_schema() ORDER BY ordinal_position"
    ).fetchall()
    return [r[0] for r in rows]


def floor_inserts(
    url: str, branch_ids: Sequence[str], rows_per_commit: int, writers: int
) -> dict[str, Any]:
    """Copy the events the store wrote for ``branch_ids`` into a bare table shaped like
    ``events`` (same columns, primary key and index; no trigger, no foreign key), with
    ``writers`` threads, one connection each, one commit per ``rows_per_commit`` rows via
    ``executemany`` (pipelined): what this server does for these rows with no store."""
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        columns = _columns(conn)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(FLOOR_TABLE)))
        conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE events INCLUDING DEFAULTS INCLUDING INDEXES)").format(
                sql.Identifier(FLOOR_TABLE)
            )
        )
        per_branch = [
            conn.execute(
                "SELECT * FROM events WHERE branch_id = %s ORDER BY seq", (branch,)
            ).fetchall()
            for branch in branch_ids
        ]
    insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(FLOOR_TABLE),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    shares = [per_branch[i::writers] for i in range(writers)]
    connections = [psycopg.connect(_dsn(url)) for _ in range(writers)]
    try:

        def work(conn: psycopg.Connection[Any], share: list[list[Any]]) -> None:
            for rows in share:
                for i in range(0, len(rows), rows_per_commit):
                    with conn.cursor() as cur:
                        cur.executemany(insert, rows[i : i + rows_per_commit])
                    conn.commit()

        threads = [
            threading.Thread(target=work, args=(c, s))
            for c, s in zip(connections, shares, strict=True)
        ]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
    finally:
        for c in connections:
            c.close()
    total = sum(len(r) for r in per_branch)
    return {"events": total, "seconds": round(elapsed, 3), "events_per_s": round(total / elapsed)}


class ForkFloor:
    """The machine's floor for a fork: one INSERT of a branch-sized row and its COMMIT, by
    raw psycopg on its own connection (BEGIN, INSERT, COMMIT: three round trips, one durable
    commit), into a bare copy of ``branches`` (same columns, key and indexes; no foreign
    key). Each row copies a real branch's values under a new id. :meth:`once` is timed
    between forks, so fork and floor see the same disk and the same load."""

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(_dsn(url))
        conn = self._conn
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(FLOOR_BRANCHES)))
        conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE branches INCLUDING DEFAULTS INCLUDING INDEXES)").format(
                sql.Identifier(FLOOR_BRANCHES)
            )
        )
        cur = conn.execute("SELECT * FROM branches WHERE parent_id IS NOT NULL LIMIT 1")
        columns = [d.name for d in cur.description or ()]
        template = cur.fetchone()
        conn.commit()
        if template is None:
            raise RuntimeError("no forked branch to copy for the fork floor")
        self._insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            sql.Identifier(FLOOR_BRANCHES),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        )
        self._at = columns.index("id")
        self._template = tuple(template)
        self._count = itertools.count()
        for _ in range(20):  # warm the connection; psycopg prepares the statement by the 5th
            self.once()

    def once(self) -> None:
        t, at = self._template, self._at
        self._conn.execute(self._insert, (*t[:at], f"{next(self._count):016x}", *t[at + 1 :]))
        self._conn.commit()

    def close(self) -> None:
        self._conn.close()


def _writer_process(
    url: str,
    threads: int,
    steps_per_thread: int,
    barrier: Any,
    results: Any,
) -> None:
    """One writing process: its own store, ``threads`` branches of its own, one thread per
    branch appending one whole step (11 events) per call."""
    store = open_store(url)
    try:
        scenario = store.create_scenario("procs", {})
        branches = [store.create_branch(scenario.id, seed=1).id for _ in range(threads)]
        payloads = [step_events(i) for i in range(steps_per_thread)]
        store.append(branches[0], payloads[0][:1])  # warm the pool and the writer

        def work(branch: str) -> None:
            for events in payloads:
                store.append(branch, events)

        workers = [threading.Thread(target=work, args=(b,)) for b in branches]
        barrier.wait()
        start = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        end = time.perf_counter()
        events = sum(len(p) for p in payloads) * threads
        results.put((start, end, events))
    finally:
        store.close()


def process_appends(
    url: str, processes: int, threads: int, steps_per_thread: int
) -> dict[str, Any]:
    """Aggregate events/s of ``processes`` real OS processes appending at once (from the
    first start to the last end)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_writer_process, args=(url, threads, steps_per_thread, barrier, results))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"a writing process exited with {p.exitcode}")
    start = min(o[0] for o in outcomes)
    end = max(o[1] for o in outcomes)
    events = sum(o[2] for o in outcomes)
    return {
        "processes": processes,
        "threads_per_process": threads,
        "events": events,
        "seconds": round(end - start, 3),
        "events_per_s": round(events / (end - start)),
    }
