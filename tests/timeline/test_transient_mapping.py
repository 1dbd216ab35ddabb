"""Driver errors are sorted once into transient (retry may succeed) and permanent, whichever
driver raised them: the classification workers use to decide what to retry."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy import exc as sa_exc

from aegntix.errors import StoreError, StoreUnavailable, is_transient
from aegntix.timeline.dberrors import db_error


def _wrapped(orig: Exception) -> sa_exc.OperationalError:
    return sa_exc.OperationalError("SELECT secret FROM events", {"p": "payload"}, orig)


@pytest.mark.parametrize(
    "orig",
    [
        sqlite3.OperationalError("database is locked"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.OperationalError("connection failed: Connection refused"),
    ],
    ids=["sqlite-locked", "deadlock", "serialization", "admin-shutdown", "refused"],
)
def test_retryable_driver_errors_become_store_unavailable(orig: Exception) -> None:
    error = db_error(_wrapped(orig))
    assert isinstance(error, StoreUnavailable) and is_transient(error)
    assert error.exit_code == 75 and error.retry_after == 1
    assert "SELECT" not in str(error) and "payload" not in str(error)


@pytest.mark.parametrize(
    "orig",
    [
        sqlite3.OperationalError("no such table: events"),
        psycopg.errors.UndefinedTable('relation "events" does not exist'),
    ],
)
def test_errors_a_retry_cannot_fix_stay_permanent(orig: Exception) -> None:
    error = db_error(_wrapped(orig))
    assert type(error) is StoreError and not is_transient(error)
