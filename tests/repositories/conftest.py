"""Fixtures for the side-table repository contracts (``aegntix.tenant_data``).

Every contract test takes ``database`` (and ``other_writer``: a second store on the same
database, as another process would open it) rather than a SQLite path, so the PostgreSQL
backend only has to add its fixtures here (e.g. ``params=["sqlite", "postgresql"]``,
each test in its own schema) for all of them to run there too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aegntix.timeline import SqlStore, open_sqlite_store


@pytest.fixture
def database_path(tmp_path: Path) -> Path:
    return tmp_path / "sides.db"


@pytest.fixture
def database(database_path: Path) -> Iterator[SqlStore]:
    store = open_sqlite_store(database_path)
    yield store
    store.close()


@pytest.fixture
def other_writer(database: SqlStore, database_path: Path) -> Iterator[SqlStore]:
    """A second store with its own writer and connections on ``database``'s database."""
    store = open_sqlite_store(database_path)
    yield store
    store.close()
