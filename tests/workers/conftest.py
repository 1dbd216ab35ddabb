"""Fixtures of the distributed-worker tests: a cluster of real processes on a fresh
PostgreSQL schema, and a store on the same schema for the test's own reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aegntix.timeline import SqlStore, open_postgres_store
from tests.workers.support import Cluster, cluster_of


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    yield from cluster_of(pg_url, tmp_path)


@pytest.fixture
def db(pg_url: str) -> Iterator[SqlStore]:
    store = open_postgres_store(pg_url)
    yield store
    store.close()
