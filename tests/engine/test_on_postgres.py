"""Engine tests that exercise the store, run again on PostgreSQL: the same test functions,
collected here with ``store`` a fresh PostgreSQL schema."""

from __future__ import annotations

import pytest

from aegntix.timeline import SqlStore
from tests.analysis.test_rollouts import (  # noqa: F401 (collected here with this `store`)
    test_extend_keeps_the_first_members_untouched,
    test_intervention_and_control_are_paired,
    test_sets_are_tenant_scoped,
    town,
)
from tests.engine.test_runner import (  # noqa: F401
    test_pause_stops_after_the_current_step,
    test_resume_after_a_failure_continues_from_the_last_whole_step,
    test_scheduler_runs_many_branches_each_as_if_alone,
    test_step_by_step_equals_a_whole_run,
    test_two_runners_on_one_branch_cannot_both_write,
)


@pytest.fixture
def store(pg_store: SqlStore) -> SqlStore:
    assert pg_store.engine.dialect.name == "postgresql"
    return pg_store
