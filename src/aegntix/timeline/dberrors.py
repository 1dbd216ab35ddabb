"""Driver errors become project errors here, once, at the store's boundary.

SQLAlchemy's messages carry the SQL statement, its parameters (event payloads) and a
documentation link on a second line: fine in a log, never for a user. :func:`db_error` keeps
the driver's own one-line reason ("unable to open database file", "UNIQUE constraint
failed: …") and says what it means.

Whether retrying can help is decided here too: a locked or busy SQLite file, a PostgreSQL
server that refuses or drops the connection, a deadlock or a serialization failure become
:class:`~aegntix.errors.StoreUnavailable` (transient: HTTP 503 with ``Retry-After``, CLI
exit 75); a file that is not a database or a missing table stays a permanent
:class:`~aegntix.errors.StoreError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from aegntix.errors import AegntixError, BranchBusy, StoreError, StoreUnavailable

#: Reasons kept at most this long (a driver message is one line, never a dump).
MAX_REASON = 200


def driver_reason(error: BaseException) -> str:
    """The driver's first line, without SQL or parameters (``error.orig`` for SQLAlchemy)."""
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    orig = error.orig if isinstance(error, sa_exc.DBAPIError) else error
    text = str(orig).strip().splitlines()
    reason = text[0] if text else type(orig).__name__
    return reason[:MAX_REASON]


#: SQLite primary result codes worth retrying: SQLITE_BUSY, SQLITE_LOCKED, SQLITE_PROTOCOL
#: (WAL read locks held elsewhere through every retry).
_SQLITE_TRANSIENT = {5, 6, 15}
#: SQLSTATE classes/codes worth retrying: connection exception, transaction rollback
#: (serialization failure, deadlock), insufficient resources, operator intervention
#: (server shutting down or starting), lock not available.
_SQLSTATE_TRANSIENT = ("08", "40", "53", "57P", "55P03")
#: Phrases of driver errors that carry no code (psycopg failing to connect, SQLite busy).
_TRANSIENT_PHRASES = (
    "database is locked",
    "database table is locked",
    "connection refused",
    "could not connect",
    "connection failed",
    "server closed the connection",
    "connection timeout",
    "the database system is starting up",
    "the database system is shutting down",
)


def is_transient_driver_error(error: BaseException) -> bool:
    """Whether a driver error means "the database cannot answer now, retry" rather than
    "this will fail again"."""
    if isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True  # pool exhausted, connection dropped
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    orig = error.orig if isinstance(error, sa_exc.DBAPIError) else error
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _SQLITE_TRANSIENT:
        return True
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_SQLSTATE_TRANSIENT):
        return True
    reason = str(orig).lower()
    return any(phrase in reason for phrase in _TRANSIENT_PHRASES)


def db_error(error: Exception, *, path: str | None = None) -> AegntixError:
    """The project error a driver error stands for (``path``: a database being opened)."""
    if isinstance(error, AegntixError):
        return error
    if not isinstance(error, sa_exc.SQLAlchemyError | OSError):  # a bug: say nothing of it
        return StoreError(f"the timeline write failed ({type(error).__name__})")
    reason = driver_reason(error)
    if isinstance(error, sa_exc.IntegrityError) and "events" in reason.lower():
        # (branch_id, seq) taken: another process appended to the branch first.
        return BranchBusy(
            "another writer appended to this branch at the same time; "
            "nothing of this write was kept"
        )
    if is_transient_driver_error(error):
        where = f"database {path}" if path is not None else "the timeline database"
        return StoreUnavailable(f"{where} cannot answer now (try again): {reason}")
    if path is not None:
        return StoreError(f"cannot open database {path}: {reason}")
    return StoreError(f"the timeline database failed: {reason}")


@contextmanager
def map_db_errors(*, path: str | None = None) -> Iterator[None]:
    """Run a store read or write; a driver error leaves as one readable ``AegntixError``
    (``path``: the database being opened, named in the message)."""
    try:
        yield
    except AegntixError:
        raise
    except (sa_exc.SQLAlchemyError, OSError) as exc:
        raise db_error(exc, path=path) from exc
