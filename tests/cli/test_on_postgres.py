"""CLI end-to-end tests that exercise the store, run again with ``--db postgresql://…`` (and
``AEGNTIX_DB``): the same test functions, given a fresh PostgreSQL schema as ``db``."""

from __future__ import annotations

import pytest

from aegntix.timeline import open_store
from tests.cli.test_cli import (  # noqa: F401 (collected here with this module's `db`)
    aegntix,
    test_bad_input_is_one_line_nonzero_and_changes_nothing,
    test_events_and_state,
    test_run_fork_inject_compare,
)
from tests.cli.test_rollouts_cli import test_create_show_list_extend  # noqa: F401
from tests.support import EXAMPLES


@pytest.fixture
def db(pg_url: str) -> str:
    return pg_url


def test_env_var_selects_a_postgres_database(pg_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AEGNTIX_DB", pg_url)
    aegntix("run", EXAMPLES / "negotiation.yaml", "--steps", "2", "--quiet")
    with open_store(pg_url) as store:
        assert [b.head_step for b in store.list_branches()] == [2]


def test_an_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch):
    result = aegntix("branches", "--db", "postgresql://nobody:pw@127.0.0.1:1/none", ok=False)
    assert "error:" in result and "pw" not in result and len(result.strip().splitlines()) == 1
