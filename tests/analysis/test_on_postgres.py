"""Rollout-set tests that exercise the store, run again on PostgreSQL: the same test
functions, collected here with ``store`` a fresh PostgreSQL schema. (The engine suite runs
whole on both backends: tests/engine/conftest.py.)"""

from __future__ import annotations

import pytest

from aegntix.timeline import SqlStore
from tests.analysis.test_rollouts import (  # noqa: F401 (collected here with this `store`)
    test_extend_keeps_the_first_members_untouched,
    test_intervention_and_control_are_paired,
    test_sets_are_tenant_scoped,
    town,
)


@pytest.fixture
def store(pg_store: SqlStore) -> SqlStore:
    assert pg_store.engine.dialect.name == "postgresql"
    return pg_store
