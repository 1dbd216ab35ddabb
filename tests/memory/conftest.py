"""Memory fixtures: ``store`` on both backends, so profiles, keeping and memory streams run
on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from aegntix.timeline import SqlStore


@pytest.fixture
def store(store_on_both: SqlStore) -> SqlStore:
    return store_on_both
