"""`aegntix mcp`: the MCP tools on stdio, driven by the official ``mcp`` client against a
real ``python -m aegntix mcp`` subprocess (SQLite alone: one process start costs seconds,
and the HTTP suite covers the tools on the server's backends)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters
from typer.testing import CliRunner

from aegntix.cli import app
from tests.support import EXAMPLES


async def call(client: Client, tool: str, **arguments: Any) -> tuple[bool, dict[str, Any]]:
    result = await client.call_tool(tool, arguments)
    assert isinstance(result.structured_content, dict), result.content
    return bool(result.is_error), result.structured_content


def test_stdio_create_run_fork_compare_as_the_local_owner(tmp_path: Path) -> None:
    db = str(tmp_path / "local.db")
    # what the CLI recorded is the local owner's, as what the tools record is
    ran = CliRunner().invoke(
        app, ["run", str(EXAMPLES / "negotiation.yaml"), "--db", db, "--steps", "2", "--json"]
    )
    assert ran.exit_code == 0, ran.output
    cli_branch = json.loads(ran.output.splitlines()[0])["branch_id"]
    assert asyncio.run(drive(db, cli_branch)) == []


async def drive(db: str, cli_branch: str) -> list[object]:
    """The flow over stdio; what came on stdout that was not protocol."""
    stray: list[object] = []

    async def on_message(message: object) -> None:
        if isinstance(message, Exception):  # a stdout line that is not protocol
            stray.append(message)

    # debug logs on: they must all go to stderr, never into the protocol on stdout
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "aegntix", "--log-level", "debug", "mcp", "--db", db],
        env={**os.environ, "AEGNTIX_LOG_FORMAT": "json"},
    )
    async with Client(params, message_handler=on_message) as c:
        error, listed = await call(c, "list_branches")
        assert not error and cli_branch in [b["id"] for b in listed["branches"]]

        error, created = await call(c, "create_scenario", example="negotiation")
        assert not error
        root = created["root_branch"]["id"]
        error, done = await call(c, "run", branch_id=root, steps=4)
        assert not error and (done["head_step"], done["running"]) == (4, False)

        injection = {"content": "The seller must sell by Friday.", "targets": ["seller"]}
        error, fork = await call(c, "fork", branch_id=root, at_step=2, injection=injection)
        assert not error and fork["parent_id"] == root
        error, _ = await call(c, "run", branch_id=fork["id"], steps=2)
        assert not error
        error, diff = await call(c, "compare", a=root, b=fork["id"])
        assert not error and diff["diverged"] and diff["divergence_step"] == 3

        error, body = await call(c, "fork", branch_id=root, at_step=99)
        assert error and body["error"] == "fork-out-of-range"
        assert body["errors"][0]["field"] == "at_step"
    return stray


def test_mcp_help_names_the_transport_and_the_caller() -> None:
    result = CliRunner().invoke(app, ["mcp", "--help"])
    assert result.exit_code == 0
    assert "stdin/stdout" in result.output and "--read-only" in result.output
