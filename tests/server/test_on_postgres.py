"""API tests that exercise the store, run again against a server on PostgreSQL: the same
test functions, collected here with this module's ``live_server`` (a fresh schema)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server.conftest import LiveServer, serving
from tests.server.test_api import (  # noqa: F401 (collected here with this module's server)
    client,
    test_create_run_fork_inject_compare,
    test_fork_past_head_is_409,
    test_step_pause_resume_and_state,
)
from tests.server.test_id_prefixes import (  # noqa: F401
    tenant_a,
    test_an_ambiguous_prefix_is_409_naming_the_matches,
    test_unique_prefixes_resolve_on_paths_and_queries,
)
from tests.server.test_isolation import (  # noqa: F401
    tenants,
    test_foreign_ids_answer_404_on_every_route,
    test_tenant_a_untouched,
)

from ..postgres import SessionDatabase


@pytest.fixture(scope="module")
def live_server(
    pg_database: SessionDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with serving(tmp_path_factory.mktemp("live-pg"), db=pg_database.new_url()) as server:
        assert server.store.engine.dialect.name == "postgresql"
        yield server
