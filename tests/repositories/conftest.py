"""Fixtures for the side-table repository contracts (``aegntix.tenant_data``), on both
backends (``location``: a SQLite file, or a fresh schema of this session's PostgreSQL).

Every contract test takes ``database`` (and ``other_writer``: a second store on the same
database, as another process would open it), so each runs on SQLite and PostgreSQL; the
race tests only really exercise ``ON CONFLICT`` on PostgreSQL, where writers do not queue
behind one file lock.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aegntix.timeline import SqlStore, open_store


@pytest.fixture
def database_location(location: str) -> str:
    return location


@pytest.fixture
def database(database_location: str) -> Iterator[SqlStore]:
    store = open_store(database_location)
    yield store
    store.close()


@pytest.fixture
def other_writer(database: SqlStore, database_location: str) -> Iterator[SqlStore]:
    """A second store with its own writer and connections on ``database``'s database."""
    store = open_store(database_location)
    yield store
    store.close()
