"""`aegntix usage`: tokens and cost of model-backed brains, per agent, branch and scenario."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from aegntix.brains.accounting import billed_by_branch, usage_for
from aegntix.cli.common import DbOption, JsonOption, console, emit_json, handles_errors, opened
from aegntix.cli.common import resolve_branch as _resolve
from aegntix.timeline import SqlStore

_COLUMNS = ("decisions", "calls", "tokens_in", "tokens_out", "cost", "fallbacks")
_BILLED = ("calls", "tokens_in", "tokens_out", "cost")


def _cells(values: dict[str, Any], columns: tuple[str, ...]) -> list[str]:
    out = []
    for col in columns:
        value = values.get(col, 0)
        out.append(f"{value:,.4f}" if col == "cost" else f"{value:,}")
    return out


@handles_errors
def usage(
    branch: Annotated[
        str | None, typer.Argument(help="Branch id (or unique prefix, or label); all if omitted.")
    ] = None,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """Tokens and cost of model calls: per agent and branch (as recorded in the timeline)
    and as billed (calls actually made; cache hits are free) per branch, scenario, tenant."""
    with opened(db) as store:
        if branch is None:
            _overview(store, json_out)
            return
        report = usage_for(store, _resolve(store, branch).id)
    if json_out:
        emit_json(report)
        return
    recorded, billed = report["recorded"], report["billed"]
    table = Table(
        title=f"branch {report['branch_id']} ({report['label']}) · recorded in its timeline",
        title_justify="left",
    )
    table.add_column("agent", style="bold")
    for col in _COLUMNS:
        table.add_column(col.replace("_", " "), justify="right")
    for agent, values in recorded["agents"].items():
        table.add_row(agent, *_cells(values, _COLUMNS))
    table.add_row("[bold]total[/]", *_cells(recorded["total"], _COLUMNS))
    console.print(table)
    totals = Table(title="billed (provider calls made; cache hits are free)", title_justify="left")
    totals.add_column("who", style="bold")
    for col in _BILLED:
        totals.add_column(col.replace("_", " "), justify="right")
    for agent, values in billed["agents"].items():
        totals.add_row(f"agent {agent}", *_cells(values, _BILLED))
    for scope in ("branch", "scenario", "tenant"):
        totals.add_row(scope, *_cells(billed[scope], _BILLED))
    console.print(totals)


def _overview(store: SqlStore, json_out: bool) -> None:
    branches = store.list_branches()
    tenants = sorted({b.tenant_id for b in branches})
    billed: dict[str, dict[str, Any]] = {}
    for tenant in tenants:
        billed.update(billed_by_branch(store, tenant))
    rows = [
        {"branch_id": b.id, "label": b.label, "scenario_id": b.scenario_id, **billed.get(b.id, {})}
        for b in branches
    ]
    scenarios: dict[str, dict[str, Any]] = {}
    for row in rows:
        total = scenarios.setdefault(row["scenario_id"], dict.fromkeys(_BILLED, 0))
        for col in _BILLED:
            total[col] += row.get(col, 0)
    if json_out:
        emit_json({"branches": rows, "scenarios": scenarios})
        return
    names = {sc.id: sc.name for sc in store.list_scenarios()}
    table = Table(title="billed per branch (provider calls made)", title_justify="left")
    for col in ("branch", "label", *_BILLED):
        table.add_column(col.replace("_", " "), justify="left" if col == "label" else "right")
    for row in rows:
        table.add_row(row["branch_id"], row["label"], *_cells(row, _BILLED))
    console.print(table)
    per_scenario = Table(title="billed per scenario", title_justify="left")
    for col in ("scenario", *_BILLED):
        per_scenario.add_column(
            col.replace("_", " "), justify="left" if col == "scenario" else "right"
        )
    for scenario_id, total in scenarios.items():
        per_scenario.add_row(names.get(scenario_id, scenario_id), *_cells(total, _BILLED))
    console.print(per_scenario)
