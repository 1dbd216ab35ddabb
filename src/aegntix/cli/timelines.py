"""Commands on recorded timelines: branches, fork, inject, compare, events, state, verify."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer
from rich.columns import Columns
from rich.json import JSON
from rich.markup import escape
from rich.panel import Panel

from aegntix.cli.common import (
    DbOption,
    JsonOption,
    console,
    emit_json,
    handles_errors,
    opened,
    parse_assignments,
    resolve_branch,
)
from aegntix.cli.render import (
    branch_tree,
    divergence_chart,
    event_line,
    explain_table,
    outcome_table,
)
from aegntix.cli.running import QuietOption, drive_run
from aegntix.cli.strategy import (
    EdgePOption,
    MaxStepsOption,
    SourceOption,
    SpreadOption,
    StrategyOption,
    WaveOption,
    chosen,
)
from aegntix.engine import Runner
from aegntix.errors import ForkOutOfRange, IntegrityError, InvalidRequest
from aegntix.inject import inject as inject_into
from aegntix.inject import preview
from aegntix.model.events import Branch
from aegntix.model.stored import scenario_from
from aegntix.timeline import SqlStore, state_at
from aegntix.timeline import compare as compare_branches
from aegntix.timeline import verify as verify_store
from aegntix.timeline.prepare import check_seed

BranchArg = Annotated[str, typer.Argument(help="Branch id (or unique prefix, or label).")]


@handles_errors
def branches(
    scenario: Annotated[str | None, typer.Option(help="Only this scenario id.")] = None,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """List branches as a tree of timelines."""
    with opened(db) as store:
        found = store.list_branches(scenario)
        if json_out:
            emit_json(found)
            return
        names = {s.id: s.name for s in store.list_scenarios()}
        console.print(branch_tree(found, names))


InjectOption = Annotated[str | None, typer.Option("--inject", help="Text to inject.")]
TargetOption = Annotated[
    list[str] | None, typer.Option("--target", "-t", help="Target agent id (repeatable).")
]
StanceOption = Annotated[
    float | None, typer.Option("--stance", help="Direction the injection pushes opinions (-1..1).")
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="World fact a broadcast changes, key=value (repeatable)."),
]


@handles_errors
def fork(
    branch: BranchArg,
    at: Annotated[int, typer.Option("--at", help="Fork after this step (0 = before step 1).")],
    inject: InjectOption = None,
    target: TargetOption = None,
    strategy: StrategyOption = "",
    spread: SpreadOption = None,
    wave: WaveOption = None,
    source: SourceOption = None,
    edge_p: EdgePOption = None,
    max_steps: MaxStepsOption = None,
    stance: StanceOption = None,
    set_: SetOption = None,
    label: Annotated[str | None, typer.Option(help="Label of the new branch.")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the new branch (default: parent's).")
    ] = None,
    run_steps: Annotated[
        int | None, typer.Option("--run", help="Then run the new branch this many steps.")
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Show how the rules brain reads the injection, per agent; write nothing.",
        ),
    ] = False,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Fork a branch at a past step, optionally injecting context into the new future."""
    organic = (source, edge_p, max_steps)
    if inject is None and (target or stance is not None or set_ or explain or spread or wave):
        raise InvalidRequest("--target/--stance/--set/--spread/--wave/--explain need --inject TEXT")
    if inject is None and any(v is not None for v in organic):
        raise InvalidRequest("--source/--edge-p/--max-steps need --inject TEXT")
    how, schedule = chosen(strategy, target, spread, wave, organic)
    if seed is not None:
        check_seed(seed, "--seed")  # the same range and message as `run --seed`
    with opened(db) as store:
        parent = resolve_branch(store, branch)
        if explain:
            assert inject is not None
            _explain(store, parent, at, inject, target, (how, schedule), stance, set_, json_out)
            return
        if inject is None:
            child = store.fork(parent.id, at, seed=seed, label=label or f"fork@{at}")
        else:
            fields: dict[str, Any] = {} if stance is None else {"stance": stance}
            world = parse_assignments(set_ or [])
            # inject() validates everything before it forks, so bad input writes nothing.
            child = inject_into(
                store,
                parent.id,
                inject,
                targets=target,
                strategy=how,
                schedule=schedule,
                fields=fields,
                world=world,
                at_step=at,
                new_branch=True,
                label=label,
                seed=seed,
            ).branch
        if json_out and run_steps is None:
            emit_json(child)
        elif not json_out:
            console.print(
                f"forked [bold]{child.id}[/] ({child.label}) from {parent.id} at step {at}"
                f" — {child.head_seq} events inherited, none copied"
            )
        if run_steps is not None:
            drive_run(store, Runner(store, child.id), run_steps, json_out=json_out, quiet=quiet)


def _explain(
    store: SqlStore,
    parent: Branch,
    at: int,
    text: str,
    target: list[str] | None,
    how: tuple[str, dict[str, Any] | None],
    stance: float | None,
    set_: list[str] | None,
    json_out: bool,
) -> None:
    """``fork --explain``: the preview, validated as the fork would be; nothing written."""
    if not 0 <= at <= parent.head_step:
        raise ForkOutOfRange(
            f"cannot inject at step {at}: "
            f"branch {parent.id} has completed steps 0..{parent.head_step}"
        )
    scenario = scenario_from(store.get_scenario(parent.scenario_id))
    found = preview(
        scenario,
        text,
        targets=target,
        strategy=how[0],
        schedule=how[1],
        fields={} if stance is None else {"stance": stance},
        world=parse_assignments(set_ or []),
        seed=parent.seed,
        step=at + 1,
    ).json()
    if json_out:
        emit_json({"branch_id": parent.id, "at_step": at, **found})
        return
    console.print(explain_table(found))
    if len(found["schedule"]) > 1 or found["strategy"] != "broadcast":
        when = "; ".join(f"step {w['step']}: {', '.join(w['agents'])}" for w in found["schedule"])
        console.print(f"[bold]who hears it when:[/] {escape(when)}", soft_wrap=True)
    console.print(f"[bold]verdict:[/] {found['verdict']}", soft_wrap=True)


@handles_errors
def inject(
    branch: BranchArg,
    text: Annotated[str, typer.Argument(help="What to inject.")],
    target: TargetOption = None,
    strategy: StrategyOption = "",
    spread: SpreadOption = None,
    wave: WaveOption = None,
    source: SourceOption = None,
    edge_p: EdgePOption = None,
    max_steps: MaxStepsOption = None,
    stance: StanceOption = None,
    set_: SetOption = None,
    at: Annotated[
        int | None, typer.Option("--at", help="After this past step (forks first). Default: now.")
    ] = None,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """Inject context into a branch before its next step (or fork at a past step first)."""
    with opened(db) as store:
        found = resolve_branch(store, branch)
        how, schedule = chosen(strategy, target, spread, wave, (source, edge_p, max_steps))
        result = inject_into(
            store,
            found.id,
            text,
            targets=target,
            strategy=how,
            schedule=schedule,
            at_step=at,
            fields={} if stance is None else {"stance": stance},
            world=parse_assignments(set_ or []),
        )
        if json_out:
            emit_json(result)
            return
        where = f"new branch {result.branch.id}" if result.forked else f"branch {found.id}"
        console.print(f"injected into {where} before step {result.events[0].step}")


@handles_errors
def compare(
    a: Annotated[str, typer.Argument(help="First branch.")],
    b: Annotated[str, typer.Argument(help="Second branch.")],
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """Compare two futures: outcomes side by side, where they diverge, and how far apart."""
    with opened(db) as store:
        first, second = resolve_branch(store, a), resolve_branch(store, b)
        result = compare_branches(store, first.id, second.id)
        if json_out:
            skip = {"only_a", "only_b"}  # counts are given; events: `aegntix events`
            fields = dataclasses.fields(result)
            emit_json({f.name: getattr(result, f.name) for f in fields if f.name not in skip})
            return
        names = sorted(set(result.outcomes_a) | set(result.outcomes_b))
        rows = {
            n: [result.outcomes_a.get(n), result.outcomes_b.get(n), result.outcome_deltas.get(n)]
            for n in names
        }
        label_a, label_b = f"{first.id} ({first.label})", f"{second.id} ({second.label})"
        console.print(outcome_table("outcomes", [label_a, label_b, "Δ (b − a)"], rows))
        if result.metrics_a or result.metrics_b:
            emerged = {
                n: [result.metrics_a.get(n), result.metrics_b.get(n), result.metrics_deltas.get(n)]
                for n in sorted(set(result.metrics_a) | set(result.metrics_b))
            }
            heads = [label_a, label_b, "Δ (b − a)"]
            console.print(outcome_table("emergence metrics (aegntix metrics)", heads, emerged))
        if result.divergence_step is None:
            console.print("[green]no divergence[/]: the two timelines are identical so far")
        else:
            console.print(
                f"diverge at step [bold]{result.divergence_step}[/] (seq {result.divergence_seq});"
                f" common ancestor {result.common_ancestor or '—'};"
                f" {result.only_a_count} events only in a, {result.only_b_count} only in b"
            )
        if result.world_diff:
            diff = {k: [va, vb] for k, (va, vb) in sorted(result.world_diff.items())}
            console.print(outcome_table("state at heads (differences)", ["a", "b"], diff, "state"))
        console.print(
            Panel(
                divergence_chart(result.divergence_series),
                title="divergence over steps",
                title_align="left",
                expand=False,
            )
        )


@handles_errors
def events(
    branch: BranchArg,
    from_seq: Annotated[int, typer.Option("--from", min=1, help="First seq to show.")] = 1,
    limit: Annotated[int | None, typer.Option(min=1, help="Show at most this many.")] = None,
    verbose: Annotated[
        bool, typer.Option("--all", "-a", help="Include world/system events.")
    ] = False,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """Show a branch's events (its ancestors' up to the fork, then its own)."""
    with opened(db) as store:
        found = resolve_branch(store, branch)
        scenario = scenario_from(store.get_scenario(found.scenario_id))
        shown = 0
        for event in store.events(found.id, from_seq=from_seq):
            if limit is not None and shown >= limit:
                break
            if json_out:
                emit_json(event)
                shown += 1
                continue
            line = event_line(scenario, event, verbose=verbose)
            if line is not None:
                console.print(line, soft_wrap=True)
                shown += 1


@handles_errors
def state(
    branch: BranchArg,
    step: Annotated[int | None, typer.Option("--step", help="Step (default: head).")] = None,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """Show the world and agents' state after a step."""
    with opened(db) as store:
        found = resolve_branch(store, branch)
        snapshot = state_at(store, found.id, step)
        if json_out:
            emit_json(snapshot)
            return
        console.print(
            Columns(
                [
                    Panel(
                        JSON.from_data(snapshot["world"]),
                        title=f"world @ step {snapshot['step']}",
                        expand=False,
                    ),
                    Panel(JSON.from_data(snapshot["agents"]), title="agents", expand=False),
                ]
            )
        )


@handles_errors
def verify(
    branch: Annotated[str | None, typer.Option(help="Only this branch.")] = None,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """Check every hash chain; report the first tampered or missing row per branch."""
    with opened(db) as store:
        only = resolve_branch(store, branch).id if branch else None
        report = verify_store(store, only)
        if json_out:
            emit_json(report)
        elif report.ok:
            console.print(
                f"[green]ok[/]: {report.branches_checked} branches, "
                f"{report.events_checked} events, every chain verifies"
            )
        else:
            for p in report.problems:
                console.print(f"[red]✗[/] branch {p.branch_id} seq {p.seq}: {p.reason}")
        if not report.ok:
            first = report.problems[0]
            raise IntegrityError(f"branch {first.branch_id} seq {first.seq}: {first.reason}")
