"""One writer thread with group commit.

Callers enqueue requests and wait on a future. The thread takes whatever is waiting (up to a
cap), applies it in ONE transaction, commits, and only then resolves the futures: one commit
for many appends under load, and an acknowledged append is always committed.

Each request is atomic on its own inside that transaction (a SAVEPOINT each; appends, which
only buffer until the batch's flush, undo in memory; a request alone in its batch has the
transaction itself): a request that raises — before or after writing — leaves nothing, and the
others of its batch commit as if it had never been there.
Only a failure of the transaction itself (the flush of the batch's appends, the commit, a
broken connection) fails the whole batch — except when another process moved a head the batch
appends to (``HeadMoved``, see ``writes.py``) or PostgreSQL broke a deadlock: then the batch
is rolled back and run again on heads read afresh.

Async callers get an ``asyncio.Future`` resolved with ONE ``call_soon_threadsafe`` per event
loop per batch (``asyncio.wrap_future`` costs a self-pipe write per request, which measured as
the bottleneck).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, RootTransaction
from sqlalchemy import exc as sa_exc

from aegntix.errors import AegntixError, HeadMoved, StoreError
from aegntix.observability import metrics
from aegntix.timeline.bus import StatusChange
from aegntix.timeline.dberrors import db_error
from aegntix.timeline.writes import WriteOps

T = TypeVar("T")

#: ``Connection.info`` key marking the writer's connection (SQLite then BEGINs IMMEDIATE).
WRITER_FLAG = "aegntix_writer"
_SAVEPOINT = "SAVEPOINT aegntix_request"
_ROLLBACK_TO = "ROLLBACK TO SAVEPOINT aegntix_request"
_RELEASE = "RELEASE SAVEPOINT aegntix_request"
#: Times a batch is re-run after another process moved a head it appends to (or PostgreSQL
#: broke a deadlock or a serialization conflict); each run starts from fresh heads.
RETRIES = 8
# PostgreSQL's SQLSTATEs for "run the transaction again": serialization failure, deadlock.
_RETRY_STATES = {"40001", "40P01"}


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, HeadMoved):
        return True
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else None
    return getattr(orig, "sqlstate", None) in _RETRY_STATES


class _Request:
    __slots__ = ("afuture", "fn", "future", "loop", "size")

    def __init__(
        self,
        fn: Callable[[Connection], Any],
        size: int,
        future: Future[Any] | None = None,
        afuture: asyncio.Future[Any] | None = None,
    ) -> None:
        self.fn = fn
        self.size = size  # events it carries (for the batch cap); 0 for other writes
        self.future = future
        self.afuture = afuture
        self.loop = afuture.get_loop() if afuture is not None else None

    def start(self) -> bool:
        """False if the caller cancelled before the writer got to it (then it is skipped)."""
        if self.future is not None:
            return self.future.set_running_or_notify_cancel()
        return self.afuture is not None and not self.afuture.cancelled()


def _settle(items: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for fut, result, error in items:
        if fut.done():  # cancelled while in flight: the write stands, nobody is waiting
            continue
        if error is None:
            fut.set_result(result)
        else:
            fut.set_exception(error)


class Writer:
    def __init__(
        self,
        engine: Engine,
        ops: WriteOps,
        *,
        max_requests: int = 512,
        max_events: int = 20_000,
        after_commit: Callable[[Connection], None] | None = None,
        transaction_lock: contextlib.AbstractContextManager[Any] | None = None,
    ) -> None:
        """``after_commit`` runs in the writer thread after each commit, outside any
        transaction (the SQLite backend bounds its WAL there). ``transaction_lock`` is held
        around each transaction (writers of several processes queue on it)."""
        self.ops = ops
        self._after_commit = after_commit
        self._transaction_lock = transaction_lock or contextlib.nullcontext()
        self._engine = engine
        self._max_requests = max_requests
        self._max_events = max_events
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._conn: Connection | None = None
        #: Called after each commit with what it announces, in request order: the events it
        #: appended and the status changes it made (the store's bus).
        self.on_committed: Callable[[list[Any]], None] | None = None
        self._stats = {
            "commits": 0,
            "requests": 0,
            "events": 0,
            "batched_commits": 0,
            "max_batch": 0,
            "failed_commits": 0,
            "failed_requests": 0,
            "retried_batches": 0,
        }
        self._thread = threading.Thread(target=self._run, name="aegntix-writer", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[Connection], T], size: int = 0) -> Future[T]:
        future: Future[T] = Future()
        self._put(_Request(fn, size, future=future))
        return future

    def submit_async(self, fn: Callable[[Connection], T], size: int = 0) -> asyncio.Future[T]:
        """Like :meth:`submit`, for a coroutine running in an event loop."""
        afuture: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._put(_Request(fn, size, afuture=afuture))
        return afuture

    def _put(self, request: _Request) -> None:
        with self._lock:  # so nothing lands in the queue behind the stop marker
            if self._closed:
                raise StoreError("the timeline store is closed")
            self._queue.put(request)

    def stats(self) -> dict[str, int]:
        return dict(self._stats)

    def close(self) -> None:
        """Finish everything queued, then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()

    # -- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        carry: _Request | None = None
        stopping = False
        try:
            while carry is not None or not stopping:
                first = carry if carry is not None else self._queue.get()
                if first is None:
                    break
                batch, carry, stopping = self._collect(first)
                self._apply(batch)
                # Drop our references now: an idle writer must not pin the last batch (its
                # events, through the futures' results) until the next request comes.
                del batch, first
        finally:
            if self._conn is not None:
                self._conn.info.pop(WRITER_FLAG, None)
                self._conn.close()
                self._conn = None

    def _collect(self, first: _Request) -> tuple[list[_Request], _Request | None, bool]:
        """``first`` plus whatever is waiting, up to the caps; returns (batch, the request
        that did not fit, whether the stop marker was seen)."""
        batch, size = [first], first.size
        while len(batch) < self._max_requests and size < self._max_events:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                return batch, None, True
            if size + nxt.size > self._max_events:
                return batch, nxt, False
            batch.append(nxt)
            size += nxt.size
        return batch, None, False

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self._engine.connect()
            conn.info[WRITER_FLAG] = True
            self._conn = conn
        return self._conn

    def _apply(self, batch: list[_Request]) -> None:
        live = [r for r in batch if r.start()]
        if not live:
            return
        for attempt in range(RETRIES + 1):
            done: list[tuple[_Request, Any, BaseException | None]] = []
            try:
                conn = self._connection()
                with self._transaction_lock, conn.begin() as transaction:
                    if len(live) == 1 and not live[0].size:
                        done.append(self._alone(conn, transaction, live[0]))
                    else:
                        done.extend(self._one(conn, req) for req in live)
                    if transaction.is_active:
                        self.ops.flush(conn)
                break
            except Exception as exc:
                if attempt < RETRIES and _retryable(exc):
                    # Rolled back: run every request again on heads read afresh. A request
                    # whose expect_seq is now behind gets BranchBusy; the others land.
                    self.ops.reset()
                    self._stats["retried_batches"] += 1
                    continue
                self._fail(live, exc)
                return
        if self._after_commit is not None:
            # Maintenance only: the batch is committed whatever happens here.
            with contextlib.suppress(Exception):
                self._after_commit(conn)
        announced: list[Any] = []
        for req, result, error in done:
            if error is not None:
                continue
            if req.size:
                announced.extend(result)
            elif isinstance(result, StatusChange):  # what a write returns to be announced
                announced.append(result)
        metrics.committed(sum(r.size for r, _, error in done if error is None))
        if self.on_committed is not None and announced:
            with contextlib.suppress(Exception):  # announcing never fails a commit
                self.on_committed(announced)
        stats = self._stats
        stats["commits"] += 1
        stats["requests"] += len(live)
        stats["events"] += sum(r.size for r in live)
        stats["max_batch"] = max(stats["max_batch"], len(live))
        if len(live) > 1:
            stats["batched_commits"] += 1
        self._resolve(done)

    def _one(self, conn: Connection, req: _Request) -> tuple[_Request, Any, BaseException | None]:
        """Run ``req`` atomically: all of it is kept, or none of it.

        An append (a request carrying events) writes nothing until the batch's flush: its
        rows, head and cache changes are buffered in memory, and :meth:`WriteOps.undo` drops
        them. Any other request runs in its own SAVEPOINT, after the buffered appends before
        it are flushed (so a rollback to it never takes theirs). Raw SAVEPOINT statements:
        ``begin_nested()`` cost ~1 ms a request in compiling (measured); on SQLite they nest
        in the writer's transaction because the engine leaves pysqlite in autocommit and
        emits BEGIN itself (``timeline/sqlite.py``)."""
        ops = self.ops
        if req.size:
            ops.begin()
            try:
                return req, req.fn(conn), None
            except HeadMoved:
                raise  # an earlier request's head: the whole batch runs again
            except Exception as exc:
                ops.undo(caches=ops.dirty or not isinstance(exc, AegntixError))
                return self._failed(req, exc)
        ops.flush(conn)
        ops.begin()
        conn.exec_driver_sql(_SAVEPOINT)
        try:
            result = req.fn(conn)
            ops.flush(conn)  # anything it buffered lands inside its savepoint
        except HeadMoved:
            raise
        except Exception as exc:
            # If the rollback itself fails the transaction is unusable: the batch fails.
            conn.exec_driver_sql(_ROLLBACK_TO)
            conn.exec_driver_sql(_RELEASE)
            ops.undo(caches=ops.dirty or not isinstance(exc, AegntixError))
            return self._failed(req, exc)
        conn.exec_driver_sql(_RELEASE)
        return req, result, None

    def _alone(
        self, conn: Connection, transaction: RootTransaction, req: _Request
    ) -> tuple[_Request, Any, BaseException | None]:
        """A batch of one request (not an append): the transaction is its savepoint, which
        saves the SAVEPOINT and RELEASE round trips a fork or a side-table write would pay
        (on PostgreSQL each is one). If it fails, the transaction is rolled back."""
        ops = self.ops
        ops.begin()
        try:
            result = req.fn(conn)
            ops.flush(conn)
        except HeadMoved:
            raise
        except Exception as exc:
            # If the rollback itself fails the connection is unusable: the batch fails.
            transaction.rollback()
            ops.undo(caches=ops.dirty or not isinstance(exc, AegntixError))
            return self._failed(req, exc)
        return req, result, None

    def _failed(self, req: _Request, exc: Exception) -> tuple[_Request, Any, BaseException]:
        self._stats["failed_requests"] += 1
        if isinstance(exc, AegntixError):
            return req, None, exc
        error = StoreError(f"the write was rolled back: {exc}")
        error.__cause__ = exc
        return req, None, error

    @staticmethod
    def _resolve(done: Sequence[tuple[_Request, Any, BaseException | None]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        for req, result, error in done:
            if req.future is not None:
                if error is None:
                    req.future.set_result(result)
                else:
                    req.future.set_exception(error)
            elif req.loop is not None and req.afuture is not None:
                by_loop.setdefault(req.loop, []).append((req.afuture, result, error))
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left to tell
                loop.call_soon_threadsafe(_settle, items)

    def _fail(self, live: list[_Request], exc: Exception) -> None:
        # Rolled back: caches may hold the batch's effects, and the connection may be broken.
        self.ops.reset()
        self._stats["failed_commits"] += 1
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            finally:
                self._conn = None
        failed: list[tuple[_Request, Any, BaseException | None]] = []
        for req in live:
            # One line, no SQL and no parameters (event payloads): see dberrors.
            error = db_error(exc)
            error.__cause__ = exc
            failed.append((req, None, error))
        self._resolve(failed)
