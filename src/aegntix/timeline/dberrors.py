"""Driver errors become project errors here, once, at the store's boundary.

SQLAlchemy's messages carry the SQL statement, its parameters (event payloads) and a
documentation link on a second line: fine in a log, never for a user. :func:`db_error` keeps
the driver's own one-line reason ("unable to open database file", "UNIQUE constraint
failed: …") and says what it means.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from aegntix.errors import AegntixError, BranchBusy, StoreError

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
