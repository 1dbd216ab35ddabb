"""A read-only command on an empty PostgreSQL database says so and creates nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect

from aegntix.timeline.postgres import postgres_url
from tests.cli.test_cli import aegntix
from tests.support import EXAMPLES


def _tables(url: str) -> list[str]:
    engine = create_engine(postgres_url(url))
    try:
        with engine.connect() as conn:
            return inspect(conn).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", [["branches"], ["rollouts", "list"], ["usage"]])
def test_read_only_commands_refuse_an_empty_database(pg_url: str, command: list[str]):
    result = aegntix(*command, "--db", pg_url, ok=False)
    assert "no AegntiX database at" in result
    assert len(result.strip().splitlines()) == 1
    assert _tables(pg_url) == []


def test_a_run_creates_the_tables_then_reads_work(pg_url: str):
    aegntix("run", EXAMPLES / "negotiation.yaml", "--db", pg_url, "--steps", "1", "--quiet")
    assert "branches" in _tables(pg_url)
    assert "main · step 1" in aegntix("branches", "--db", pg_url)
