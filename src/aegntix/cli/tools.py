"""``aegntix tools FILE``: start a scenario's tool servers as a run would, and show what
each lists and who may call what — a check of secrets, commands and named tools before a
run depends on them (docs/tools.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from aegntix.cli.common import JsonOption, console, emit_json, handles_errors
from aegntix.errors import InvalidRequest, ToolError
from aegntix.model.loading import check_file
from aegntix.model.scenario import Scenario
from aegntix.tools.router import ToolRouter


async def probe(scenario: Scenario) -> dict[str, Any]:
    """Start the servers (then stop them): their status and tools, each agent's tools."""
    router = ToolRouter()
    try:
        run = router.for_run(scenario)
        await run.prepare()
        servers = []
        for name, conn in run.servers.items():
            row = conn.status_row()
            row["listed"] = [
                {"name": f"{name}.{t.name}", "description": t.description or ""}
                for t in sorted(conn.tools.values(), key=lambda t: t.name)
            ]
            servers.append(row)
        agents = {a.id: [t.name for t in run.tools_for(a.id)] for a in scenario.agents}
        return {"servers": servers, "agents": agents}
    finally:
        await router.aclose()


@handles_errors
def tools_command(
    file: Annotated[Path, typer.Argument(help="Scenario file (YAML or JSON).")],
    list_tools: Annotated[
        bool, typer.Option("--list", "-l", help="List every tool with its description.")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Start a scenario's tool servers; show their tools and who may call them."""
    scenario = check_file(file).scenario
    if scenario.tools is None:
        raise InvalidRequest(f"{file}: the scenario declares no tools")
    found = asyncio.run(probe(scenario))
    down = [s["server"] for s in found["servers"] if s["status"] != "up"]
    if json_out:
        emit_json({"ok": not down, **found})
    else:
        _show(found, list_tools)
    if down:
        raise ToolError(
            f"{len(down)} of {len(found['servers'])} tool servers down: {', '.join(down)}"
        )


def _show(found: dict[str, Any], list_tools: bool) -> None:
    table = Table(title="tool servers", title_justify="left")
    for column in ("server", "status", "tools", "where", "last error"):
        table.add_column(column)
    for s in found["servers"]:
        status = "[green]up[/]" if s["status"] == "up" else f"[red]{escape(s['status'])}[/]"
        table.add_row(
            escape(s["server"]),
            status,
            str(s["tools"]),
            escape(s["where"]),
            escape(s["last_error"] or ""),
        )
    console.print(table)
    for agent, names in found["agents"].items():
        shown = ", ".join(names[:8]) + (f", … ({len(names)} in all)" if len(names) > 8 else "")
        console.print(f"[bold]{escape(agent)}[/] may call {escape(shown) or 'no tool'}")
    if list_tools:
        for s in found["servers"]:
            for tool in s["listed"]:
                console.print(f"  {escape(tool['name'])} — {escape(tool['description'])}")
