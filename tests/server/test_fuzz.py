"""Schemathesis fuzz of the whole API from its OpenAPI schema, against the live server:
no input may produce a 5xx. Bounded (``AEGNTIX_FUZZ_EXAMPLES`` per operation) so it runs in
well under a minute; raise it for a deeper run."""

from __future__ import annotations

import os
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from aegntix.server.app import create_app
from aegntix.timeline import open_sqlite_store
from tests.server.api_support import create, run_to_end
from tests.server.conftest import BACKENDS, LiveServer, serving

from ..postgres import SessionDatabase

EXAMPLES = int(os.environ.get("AEGNTIX_FUZZ_EXAMPLES", "20"))


@pytest.fixture(scope="module", params=BACKENDS)
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """This module's own server per backend (not the session's): the fuzz starts background
    work (a rollout set of up to 1,000 members and its control), which its shutdown cancels
    here instead of leaving it to slow every later test of the session's server."""
    db = None
    if request.param == "postgresql":
        pg: SessionDatabase = request.getfixturevalue("pg_database")
        db = pg.new_url()
    with serving(tmp_path_factory.mktemp(f"fuzz-{request.param}"), db=db) as server:
        yield server


@pytest.fixture(scope="module")
def fuzz_tenant(live_server: LiveServer) -> dict[str, str]:
    """Tenant 'fuzz' (so nothing it does touches other tests) with a real branch, so cases
    that need an id reach the code behind the 404 check."""
    key = live_server.make_key("fuzz", "owner")
    client = live_server.client(key)
    root = create(client)["root_branch"]
    run_to_end(client, root["id"], steps=3)
    return {"key": key, "branch_id": root["id"], "scenario_id": root["scenario_id"]}


def _openapi() -> dict[str, Any]:
    """The schema the app serves, built at collection time (one test per operation needs
    it before the live server exists; ``test_served_schema_is_the_fuzzed_one`` checks they
    are the same). schemathesis' lazy ``from_fixture`` does not work with pytest 9."""
    with tempfile.TemporaryDirectory() as folder:
        store = open_sqlite_store(Path(folder) / "schema.db")
        try:
            return create_app(store).openapi()
        finally:
            store.close()


SPEC = _openapi()
schema = schemathesis.openapi.from_dict(SPEC)


def test_served_schema_is_the_fuzzed_one(live_server: LiveServer) -> None:
    assert httpx.get(f"{live_server.base_url}/openapi.json", timeout=30).json() == SPEC


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case: Any, live_server: LiveServer, fuzz_tenant: dict[str, str]) -> None:
    params = case.path_parameters or {}
    # Half the cases get a real id of this tenant (except deletes, which would end the run).
    if (
        case.method != "DELETE"
        and "branch_id" in params
        and zlib.crc32(repr(case.body).encode()) % 2 == 0
    ):
        params["branch_id"] = fuzz_tenant["branch_id"]
    case.call_and_validate(
        base_url=live_server.base_url,
        headers={"Authorization": f"Bearer {fuzz_tenant['key']}"},
        checks=[not_a_server_error],
    )
