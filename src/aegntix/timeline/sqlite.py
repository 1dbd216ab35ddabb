"""The embedded backend: a :class:`SqlStore` on one SQLite file in WAL mode."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event

from aegntix.errors import StoreError
from aegntix.timeline.dberrors import map_db_errors
from aegntix.timeline.sqlstore import SqlStore
from aegntix.timeline.writer import WRITER_FLAG

#: How long a connection waits for another process's lock before failing (ms).
BUSY_TIMEOUT_MS = 10_000
#: WAL size past which the writer forces a full checkpoint (see _WalGuard).
WAL_LIMIT_BYTES = 64 * 2**20
#: The writer's page cache (KiB). Interleaved appends to many branches touch index pages all
#: over the file; the default 2 MB cache re-read them (measured: +10-15% appends/s). Readers
#: keep the default: a pool of them with big caches would multiply the memory.
WRITER_CACHE_KIB = 64 * 1024


def _enter_wal(cursor: Any) -> None:
    """Switch the file to WAL. The switch needs an exclusive lock and SQLite does not always
    call the busy handler for it: when several processes open a new file at once, one may get
    "database is locked" at once. Retry until the busy timeout instead of failing the open."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level; SQLAlchemy's "begin" hook below emits BEGIN itself, so
    # transactions (and DDL in migrations) are really transactional.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")  # first: WAL switch may wait
        _enter_wal(cursor)
        # WAL + NORMAL: a commit survives a killed process (invariant 7); only power loss can
        # drop the last transactions, and never corrupts.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # wal_autocheckpoint stays at its default (1000 pages), run by the committing writer.
        # A background PASSIVE checkpointer was tried: under sustained appends it never
        # caught up with the writer, and the WAL grew past 1 GB.
    finally:
        cursor.close()


def _on_begin(conn: Connection) -> None:
    # The writer takes the write lock up front: a deferred BEGIN that reads and then writes can
    # fail with SQLITE_BUSY (no busy wait) if another process wrote in between.
    if not conn.info.get(WRITER_FLAG):
        conn.exec_driver_sql("BEGIN")
        return
    if not conn.info.get("aegntix_cache"):
        conn.exec_driver_sql(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
        conn.info["aegntix_cache"] = True
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class _WalGuard:
    """SQLite's automatic checkpoints are PASSIVE: while readers overlap without a gap (a busy
    server), none completes, the WAL is never restarted and grows without bound (measured:
    +50 MB per 40k events). Past ``WAL_LIMIT_BYTES`` the writer runs a TRUNCATE checkpoint,
    which waits for the current (short) reads to finish, then restarts the WAL at zero."""

    def __init__(self, db_path: Path) -> None:
        self._wal = Path(f"{db_path}-wal")
        self.forced = 0

    def __call__(self, conn: Connection) -> None:
        try:
            size = self._wal.stat().st_size
        except FileNotFoundError:
            return
        if size > WAL_LIMIT_BYTES:
            self.forced += 1
            conn.connection.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]


class WriterQueue:
    """An exclusive ``flock`` on ``<db>-writers`` held around each writer transaction, for
    processes that write one file at once (a rollout set's workers). Only speed depends on
    it: SQLite's own lock keeps writes correct, but a writer that finds it taken sleeps in
    steps of up to 100 ms, while one blocked in ``flock`` wakes as soon as the other commits
    (measured: two workers on two cores were slower than one without it). The kernel drops
    the lock of a killed process."""

    def __init__(self, db_path: Path) -> None:
        self.path = Path(f"{db_path}-writers")
        self._fd: int | None = None

    def __enter__(self) -> None:
        # Opened per transaction (microseconds against a commit's milliseconds): nothing to
        # close when the store closes, and closing the descriptor releases the lock.
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # releases the GIL while it waits

    def __exit__(self, *_exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def open_sqlite_store(
    path: str | Path, *, snapshot_every: int = 500, writer_queue: bool = False
) -> SqlStore:
    """Open (creating and migrating if needed) the timeline database at ``path``.
    ``writer_queue``: several processes will write at once (see :class:`WriterQueue`)."""
    target = Path(path)
    if str(path) == ":memory:" or not str(path):
        raise ValueError("open_sqlite_store needs a file path (WAL needs a file)")
    with map_db_errors(path=str(target)):  # one line naming the file, no SQL
        folder = next((p for p in target.parents if p.exists()), None)
        if folder is not None and not folder.is_dir():
            raise StoreError(f"cannot open database {target}: {folder} is not a directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            f"sqlite:///{target}",
            connect_args={"check_same_thread": False},
            pool_size=8,
            max_overflow=16,
        )
        event.listen(engine, "connect", _on_connect)
        event.listen(engine, "begin", _on_begin)
        try:
            return SqlStore(
                engine,
                snapshot_every=snapshot_every,
                after_commit=_WalGuard(target),
                transaction_lock=WriterQueue(target) if writer_queue else None,
            )
        except BaseException:
            engine.dispose()
            raise
