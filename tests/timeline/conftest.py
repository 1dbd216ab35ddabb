"""Timeline fixtures. Stores are real databases, parametrized over ``BACKENDS``: a SQLite
file in tmp_path, or a fresh schema of this session's PostgreSQL database. Every test taking
``store``, ``make_store`` or ``backend`` runs on both: the Store conformance suite."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from aegntix.timeline import SqlStore, open_postgres_store, open_sqlite_store

from ..postgres import SessionDatabase

StoreFactory = Callable[..., SqlStore]

# Property tests use this profile explicitly (the session-wide one stays as tests/conftest.py
# sets it). Examples are cheap here (~10 ms); scale with AEGNTIX_TIMELINE_EXAMPLES.
settings.register_profile(
    "timeline",
    max_examples=int(os.environ.get("AEGNTIX_TIMELINE_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

BACKENDS = ["sqlite", "postgresql"]

#: A PostgreSQL example costs several times a SQLite one (a round-trip per statement, and
#: the checks read every step back); the SQL is the same, so a quarter as many run there.
POSTGRES_SHARE = 4


def timeline_examples(backend: str, sqlite: int | None = None) -> settings:
    """The ``timeline`` profile drawing ``sqlite`` examples (the profile's count by default)
    on SQLite and a quarter as many, at least 10, on PostgreSQL."""
    profile = settings.get_profile("timeline")
    base = sqlite if sqlite is not None else profile.max_examples
    wanted = base if backend == "sqlite" else max(10, base // POSTGRES_SHARE)
    return settings(profile, max_examples=wanted)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[StoreFactory]:
    """Opens stores, each in its own directory (SQLite) or schema (PostgreSQL); ``where``
    names one already used, to open the same database again. Closes them all at teardown."""
    opened: list[SqlStore] = []
    schemas: dict[Path, str] = {}

    def make(snapshot_every: int = 500, *, where: Path | None = None) -> SqlStore:
        target = where or tmp_path / f"db{len(opened)}"
        target.mkdir(parents=True, exist_ok=True)
        if backend == "sqlite":
            s = open_sqlite_store(target / "timeline.db", snapshot_every=snapshot_every)
        else:
            pg: SessionDatabase = request.getfixturevalue("pg_database")
            url = schemas.setdefault(target, pg.new_url())
            s = open_postgres_store(url, snapshot_every=snapshot_every)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(make_store: StoreFactory) -> SqlStore:
    return make_store(snapshot_every=4)


@pytest.fixture(scope="module", params=BACKENDS)
def shared_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqlStore]:
    """One store per module and backend for property tests: each example works in its own
    scenario."""
    if request.param == "sqlite":
        s = open_sqlite_store(tmp_path_factory.mktemp("shared") / "timeline.db", snapshot_every=3)
    else:
        pg: SessionDatabase = request.getfixturevalue("pg_database")
        s = open_postgres_store(pg.new_url(), snapshot_every=3)
    yield s
    s.close()
