"""Model fixtures: ``store`` on both backends (``scenario_of`` reads stored specs)."""

from __future__ import annotations

import pytest

from aegntix.timeline import SqlStore


@pytest.fixture
def store(store_on_both: SqlStore) -> SqlStore:
    return store_on_both
