"""Engine fixtures, on both backends: ``store`` is ``store_on_both`` (a SQLite file, then a
fresh PostgreSQL schema), and ``fresh_store`` opens new, empty stores of the same backend,
for the invariant tests that compare runs in separate databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from aegntix.timeline import SqlStore, open_postgres_store, open_sqlite_store

from ..conftest import BACKENDS
from ..postgres import SessionDatabase

#: PostgreSQL examples cost several times SQLite's (a fresh schema per store: ~0.35 s to
#: create its tables, then a round-trip per statement); the SQL is the same on both, so the
#: property tests draw a third as many there (``AEGNTIX_HYPOTHESIS_EXAMPLES`` scales both).
POSTGRES_SHARE = 3


def examples_on(backend: str, sqlite: int | None = None) -> settings:
    """Settings drawing ``sqlite`` examples (the profile's count by default) on SQLite and a
    third as many, at least 5, on PostgreSQL."""
    base = sqlite if sqlite is not None else settings().max_examples
    return settings(max_examples=base if backend == "sqlite" else max(5, base // POSTGRES_SHARE))


class FreshStore:
    """Opens a new empty store at each call (a SQLite file in a new directory, or a new
    PostgreSQL schema); the caller closes it, the rest are closed at teardown."""

    def __init__(
        self, backend: str, folders: pytest.TempPathFactory, request: pytest.FixtureRequest
    ) -> None:
        self.backend = backend
        self._folders, self._request = folders, request
        self.opened: list[SqlStore] = []

    def __call__(self, snapshot_every: int = 500) -> SqlStore:
        if self.backend == "sqlite":
            folder = self._folders.mktemp("fresh")
            s = open_sqlite_store(folder / "t.db", snapshot_every=snapshot_every)
        else:
            pg: SessionDatabase = self._request.getfixturevalue("pg_database")
            s = open_postgres_store(pg.new_url(), snapshot_every=snapshot_every)
        self.opened.append(s)
        return s


@pytest.fixture
def store(store_on_both: SqlStore) -> SqlStore:
    return store_on_both


@pytest.fixture(params=BACKENDS)
def fresh_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FreshStore]:
    """New, empty stores of one backend (``FreshStore``); ``.backend`` says which."""
    make = FreshStore(str(request.param), tmp_path_factory, request)
    yield make
    for s in make.opened:
        s.close()
