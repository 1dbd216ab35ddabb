"""Timeline fixtures. Stores are real databases in tmp_path, parametrized over backends so
PostgreSQL joins the same contract suite later by adding one entry to ``BACKENDS``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from aegntix.timeline import SqlStore, open_sqlite_store

StoreFactory = Callable[..., SqlStore]

# Property tests use this profile explicitly (the session-wide one stays as tests/conftest.py
# sets it). Examples are cheap here (~10 ms); scale with AEGNTIX_TIMELINE_EXAMPLES.
settings.register_profile(
    "timeline",
    max_examples=int(os.environ.get("AEGNTIX_TIMELINE_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

BACKENDS = ["sqlite"]


def _open(backend: str, where: Path, snapshot_every: int) -> SqlStore:
    if backend == "sqlite":
        return open_sqlite_store(where / "timeline.db", snapshot_every=snapshot_every)
    raise AssertionError(f"unknown backend {backend}")  # pragma: no cover


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(backend: str, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens stores (each in its own directory); closes them all at teardown."""
    opened: list[SqlStore] = []

    def make(snapshot_every: int = 500, *, where: Path | None = None) -> SqlStore:
        target = where or tmp_path / f"db{len(opened)}"
        target.mkdir(parents=True, exist_ok=True)
        s = _open(backend, target, snapshot_every)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(make_store: StoreFactory) -> SqlStore:
    return make_store(snapshot_every=4)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlStore]:
    """One store per module for property tests: each example works in its own scenario."""
    s = open_sqlite_store(tmp_path_factory.mktemp("shared") / "timeline.db", snapshot_every=3)
    yield s
    s.close()
