"""Shared fixtures: real stores (SQLite files in temporary directories, PostgreSQL schemas of
this session's database), and the example scenarios. Suites run on both backends by taking
``store_on_both`` (or ``location``) instead of the SQLite-only ``store``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from aegntix.timeline import SqlStore, open_postgres_store, open_sqlite_store, open_store

from .postgres import SessionDatabase

# pytest-xdist's workers export COLUMNS=80/LINES=24 (a terminal that is not there); the CLI's
# console would wrap to it. The suite reads CLI output as a pipe does, whatever runs it.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)

settings.register_profile(
    "default",
    max_examples=int(os.environ.get("AEGNTIX_HYPOTHESIS_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("default")

#: Seconds each test module took (``scripts/test-durations`` writes it from a JUnit report).
#: The suite runs its modules heaviest first (``make test`` passes ``--no-loadscope-reorder``,
#: else xdist orders modules by their number of tests): the few-test modules that start
#: clusters of processes then run early, and the processes finish together instead of one
#: or two running the last cluster tests alone. A module not listed counts 1 s a test.
DURATIONS = json.loads((Path(__file__).with_name("durations.json")).read_text())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests: dict[str, int] = {}
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        tests[module] = tests.get(module, 0) + 1
    order = {module: i for i, module in enumerate(tests)}

    def key(item: pytest.Item) -> tuple[float, int]:
        module = item.nodeid.split("::", 1)[0]
        return -float(DURATIONS.get(module, tests[module])), order[module]

    # Stable: a module's tests keep their order, and every xdist process sorts alike.
    items.sort(key=key)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = open_sqlite_store(tmp_path / "timeline.db", snapshot_every=50)
    yield s
    s.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[SessionDatabase]:
    """This session's PostgreSQL database (created on first use, dropped at the end). The
    tests that use it fail, never skip, when PostgreSQL is not reachable."""
    try:
        db = SessionDatabase()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield db
    db.drop()


@pytest.fixture
def pg_url(pg_database: SessionDatabase) -> str:
    """A PostgreSQL URL of a fresh, empty schema (``--db`` / ``AEGNTIX_DB`` take it)."""
    return pg_database.new_url()


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[SqlStore]:
    """``store``'s PostgreSQL twin: modules re-running store-heavy tests on PostgreSQL
    override ``store`` with it."""
    s = open_postgres_store(pg_url, snapshot_every=50)
    yield s
    s.close()


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the test's database lives, once per backend: a SQLite file path, or the URL of
    a fresh schema of this session's PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "timeline.db")
    pg: SessionDatabase = request.getfixturevalue("pg_database")
    return pg.new_url()


@pytest.fixture
def store_on_both(location: str) -> Iterator[SqlStore]:
    """``store`` on each backend in turn: conftests of suites that run on both alias it."""
    s = open_store(location, snapshot_every=50)
    yield s
    s.close()


@pytest.fixture(scope="module", params=BACKENDS)
def module_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``location`` for a module-scoped fixture (built once, then read by many tests): a
    database per module and backend."""
    if request.param == "sqlite":
        return str(tmp_path_factory.mktemp("module") / "timeline.db")
    pg: SessionDatabase = request.getfixturevalue("pg_database")
    return pg.new_url()
