"""`aegntix run` and `aegntix continue`: run a branch with a live transcript."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aegntix.cli.common import (
    DbOption,
    JsonOption,
    console,
    emit_json,
    err_console,
    handles_errors,
    opened,
    resolve_branch,
)
from aegntix.cli.render import event_line, outcome_table
from aegntix.engine import Runner, RunSummary, StepResult, start_scenario
from aegntix.engine.failures import as_project_error
from aegntix.engine.runner import StepCallback
from aegntix.errors import RunFailed
from aegntix.model.loading import load_scenario
from aegntix.timeline import SqlStore
from aegntix.timeline.leases import RunLeases, holding
from aegntix.timeline.prepare import check_seed

StepsOption = Annotated[
    int | None,
    typer.Option("--steps", "-n", min=1, help="Run at most this many steps (default: to the end)."),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No live transcript.")]


@handles_errors
def run(
    file: Annotated[Path, typer.Argument(help="Scenario file (YAML or JSON).")],
    steps: StepsOption = None,
    seed: Annotated[int | None, typer.Option(help="Override the scenario's seed.")] = None,
    label: Annotated[str, typer.Option(help="Label of the new branch.")] = "main",
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Run a scenario from its file on a new root branch."""
    scenario = load_scenario(file)  # validate everything before touching the database
    if seed is not None:
        check_seed(seed, "--seed")
    with opened(db, create=True) as store:
        branch = start_scenario(store, scenario, seed=seed, label=label)
        if json_out:
            emit_json({"type": "branch", "branch_id": branch.id, "scenario_id": branch.scenario_id})
        elif not quiet:
            console.print(
                f"[bold]{scenario.name}[/] · branch [bold]{branch.id}[/] · seed {branch.seed}"
                f" · {len(scenario.agents)} agents · db {db}"
            )
        drive_run(store, Runner(store, branch.id), steps, json_out=json_out, quiet=quiet)


@handles_errors
def continue_(
    branch: Annotated[str, typer.Argument(help="Branch id (or unique prefix, or label).")],
    steps: StepsOption = None,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Continue a branch from its last completed step (also resumes after a crash)."""
    with opened(db) as store:
        found = resolve_branch(store, branch)
        if found.failure is not None and not json_out:
            # what stopped it last time: the user may need to fix that first
            note = found.failure.line(found.id)
            err_console.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
        runner = Runner(store, found.id)
        if not json_out and not quiet:
            console.print(
                f"[bold]{runner.scenario.name}[/] · branch [bold]{found.id}[/] ({found.label})"
                f" · from step {runner.completed_step}"
            )
        drive_run(store, runner, steps, json_out=json_out, quiet=quiet)


def drive_run(
    store: SqlStore, runner: Runner, steps: int | None, *, json_out: bool, quiet: bool
) -> None:
    """Run a branch with a progress bar and live transcript (or NDJSON with ``json_out``)."""
    scenario = runner.scenario
    limit = scenario.termination.max_steps
    remaining = None if limit is None else max(0, limit - runner.completed_step)
    bounds = [x for x in (steps, remaining) if x is not None]
    total = min(bounds) if bounds else None

    if json_out:

        def report(result: StepResult) -> None:
            for e in result.events:
                emit_json(
                    {
                        "type": "event",
                        "branch_id": e.branch_id,
                        "seq": e.seq,
                        "step": e.step,
                        "kind": e.kind,
                        "agent_id": e.agent_id,
                        "payload": e.payload,
                        "hash": e.hash,
                    }
                )

        summary = _run(store, runner, steps, report, json_out=True)
        emit_json({"type": "summary", **_summary_dict(summary)})
        return

    with Progress(
        TextColumn("[bold blue]steps"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet or not console.is_terminal,
    ) as progress:
        task = progress.add_task("run", total=total)

        def show(result: StepResult) -> None:
            if not quiet:
                for e in result.events:
                    line = event_line(scenario, e)
                    if line is not None:
                        progress.console.print(line, soft_wrap=True)
            progress.advance(task)

        summary = _run(store, runner, steps, show, json_out=False)
    _print_summary(summary)


async def _leased_run(
    store: SqlStore, runner: Runner, steps: int | None, on_step: StepCallback
) -> RunSummary:
    async with holding(RunLeases(store), runner.branch.id):  # BranchBusy if run elsewhere
        return await runner.run(steps, on_step)


def _run(
    store: SqlStore, runner: Runner, steps: int | None, on_step: StepCallback, *, json_out: bool
) -> RunSummary:
    """Run, holding the branch's lease; a run that fails leaves as one line naming the
    branch, the step and the reason (recorded on the branch), with the original error's
    exit code."""
    try:
        return asyncio.run(_leased_run(store, runner, steps, on_step))
    except Exception as exc:
        error = as_project_error(exc)
        if runner.failure is None:  # not a step failure (another writer took the branch)
            raise error from None
        if json_out:
            failure = runner.failure.to_json()
            emit_json({"type": "failure", "branch_id": runner.branch.id, "failure": failure})
        raise RunFailed(runner.failure.line(runner.branch.id), error.exit_code) from None


def _summary_dict(summary: RunSummary) -> dict[str, object]:
    return {
        "branch_id": summary.branch_id,
        "steps_run": summary.steps_run,
        "completed_step": summary.completed_step,
        "status": summary.status.value,
        "head_seq": summary.head_seq,
        "outcomes": summary.outcomes,
    }


def _print_summary(summary: RunSummary) -> None:
    rows = {k: [v] for k, v in summary.outcomes.items()}
    console.print(outcome_table(f"outcomes at step {summary.completed_step}", ["value"], rows))
    console.print(
        f"branch [bold]{summary.branch_id}[/] · [magenta]{summary.status}[/] · "
        f"{summary.steps_run} steps run · {summary.head_seq} events. "
        f"Fork it: [dim]aegntix fork {summary.branch_id} --at STEP --inject TEXT[/]",
        soft_wrap=True,  # in a terminal too: the terminal folds it, a copy stays one command
    )
