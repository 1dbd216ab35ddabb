"""Engine fixtures, on both backends: ``store`` is ``store_on_both`` (a SQLite file, then a
fresh PostgreSQL schema), and ``fresh_store`` opens new, empty stores of the same backend,
for the invariant tests that compare runs in separate databases."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from aegntix.timeline import SqlStore, open_postgres_store, open_sqlite_store

from ..conftest import BACKENDS
from ..postgres import SessionDatabase

FreshStore = Callable[..., SqlStore]


@pytest.fixture
def store(store_on_both: SqlStore) -> SqlStore:
    return store_on_both


@pytest.fixture(params=BACKENDS)
def fresh_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FreshStore]:
    """Opens a new empty store at each call (a SQLite file in a new directory, or a new
    PostgreSQL schema); the caller closes it, the rest are closed at teardown."""
    opened: list[SqlStore] = []

    def make(snapshot_every: int = 500) -> SqlStore:
        if request.param == "sqlite":
            folder = tmp_path_factory.mktemp("fresh")
            s = open_sqlite_store(folder / "t.db", snapshot_every=snapshot_every)
        else:
            pg: SessionDatabase = request.getfixturevalue("pg_database")
            s = open_postgres_store(pg.new_url(), snapshot_every=snapshot_every)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()
