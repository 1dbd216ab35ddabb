"""`aegntix rollouts ...`: create, run, continue, extend and inspect rollout sets."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aegntix.analysis.leased import Held
from aegntix.analysis.parallel import default_processes
from aegntix.analysis.records import MAX_ROLLOUTS, RolloutSet
from aegntix.analysis.rollouts import (
    DEFAULT_CONCURRENCY,
    InjectionSpec,
    create_set,
    extend_set,
    members_view,
    repository,
    run_sets,
    set_json,
    with_control,
)
from aegntix.cli.common import (
    DbOption,
    JsonOption,
    console,
    emit_json,
    err_console,
    handles_errors,
    opened,
    parse_assignments,
    resolve_branch,
)
from aegntix.cli.render_stats import print_stats
from aegntix.cli.strategy import (
    EdgePOption,
    MaxStepsOption,
    SourceOption,
    SpreadOption,
    StrategyOption,
    WaveOption,
    chosen,
)
from aegntix.errors import InvalidRequest
from aegntix.model.stored import scenario_from
from aegntix.timeline import SqlStore
from aegntix.timeline.postgres import is_postgres_url
from aegntix.timeline.prepare import check_seed


class RolloutsGroup(typer.core.TyperGroup):
    """``rollouts`` subcommands, plus the short form of creating a set:
    ``aegntix rollouts BRANCH --at STEP --n N ...`` runs ``rollouts create BRANCH ...``.

    A first argument that is no subcommand name (and no option) is taken as the BRANCH of
    ``create``. Branch ids are 16 hex digits, so no id can equal a subcommand name; a branch
    *label* that does (a branch labelled "list") needs the long form ``rollouts create``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # ctx: typer's vendored click Context (typer.Context is a subclass of it)
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["create", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=RolloutsGroup,
    help="Rollout sets: N futures from one point (optionally with an injection, paired "
    "with a control set of the same seeds), run concurrently.\n\n"
    "Short form of create: aegntix rollouts BRANCH --at STEP --n N "
    "[--inject TEXT --strategy S --target A ... --spread K] [--json]",
    subcommand_metavar="COMMAND [ARGS]... | BRANCH --at STEP --n N [OPTIONS]",
    no_args_is_help=True,
)

SetArg = Annotated[str, typer.Argument(help="Rollout set id (or unique prefix, 4+ chars).")]
ConcurrencyOption = Annotated[
    int,
    typer.Option(min=1, max=1024, help="Steps in flight at once across the members."),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
ProcessesOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=256,
        help="Worker processes of a local run (default: every core from 64 rules-brain "
        "members; 1 = this).",
    ),
]
LocalOption = Annotated[
    bool,
    typer.Option(
        "--local",
        help="Run the members in this machine's processes even when `aegntix worker`s are "
        "alive on the PostgreSQL database (which otherwise run them, in chunks).",
    ),
]

#: Said (on stderr) when a PostgreSQL set runs here because no worker is alive.
NO_WORKER_NOTE = (
    "no `aegntix worker` is alive on this database: running the members here "
    "(start workers to run them there, or pass --local to say so)"
)


def _on_workers(store: SqlStore, db: str, local: bool) -> bool:
    """Whether the members go to the work queue: PostgreSQL, not ``--local``, a worker
    alive (else one line says they run here)."""
    if local or not is_postgres_url(db):
        return False
    from aegntix.workers.members import live_workers

    if live_workers(store):
        return True
    err_console.print(NO_WORKER_NOTE, soft_wrap=True)
    return False


@dataclass(frozen=True, slots=True)
class _How:
    """How ``create``/``continue``/``extend`` run the members, from their options."""

    db: str
    concurrency: int
    processes: int | None
    local: bool
    json_out: bool
    quiet: bool


def _run_and_finish(store: SqlStore, rollout: RolloutSet, how: _How) -> None:
    _finish(store, rollout, _run(store, rollout, how), how.json_out)


def _run(store: SqlStore, rollout: RolloutSet, how: _How) -> list[RolloutSet]:
    """Run the set and its control with a progress bar (members done / total); with
    ``--json`` one progress line per finished member. On workers when ``_on_workers``."""
    sets = with_control(repository(store), rollout.id)
    on_workers = _on_workers(store, how.db, how.local)
    json_out, quiet = how.json_out, how.quiet
    done = {s.id: 0 for s in sets}
    with Progress(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=json_out or quiet or not console.is_terminal,
    ) as bar:
        task = bar.add_task("rollouts", total=sum(s.n for s in sets))

        def report(set_id: str, members_done: int, total: int) -> None:
            done[set_id] = members_done
            bar.update(task, completed=sum(done.values()))
            if json_out:
                emit_json(
                    {"type": "progress", "set_id": set_id, "done": members_done, "total": total}
                )

        def held(report: Held) -> None:
            if json_out:
                emit_json(
                    {
                        "type": "held",
                        "waiting": report.waiting,
                        "elsewhere": len(report.elsewhere),
                        "expires_in": round(report.expires_in, 1),
                    }
                )
            elif not quiet:
                console.print(held_text(report), soft_wrap=True)

        if on_workers:
            from aegntix.workers.members import run_sets_on_workers

            return asyncio.run(run_sets_on_workers(store, how.db, sets, report))
        scenario = scenario_from(store.get_scenario(rollout.scenario_id))
        workers = how.processes or default_processes(sum(s.n for s in sets), scenario)
        return asyncio.run(
            run_sets(
                store,
                sets,
                concurrency=how.concurrency,
                on_progress=report,
                processes=workers,
                on_held=held,
            )
        )


def held_text(report: Held) -> str:
    """One line on members other runners hold."""
    parts = []
    if report.waiting:
        parts.append(
            f"waiting for {report.waiting} member(s) held by a previous runner's leases "
            f"(taken over when they lapse, within {report.expires_in:.0f} s; left to that "
            "runner if it is still alive)"
        )
    if report.elsewhere:
        parts.append(
            f"{len(report.elsewhere)} member(s) running in another process: left to it "
            "(the set stays running)"
        )
    return "; ".join(parts) or "no member is held by another runner any more"


def _finish(
    store: SqlStore, rollout: RolloutSet, settled: list[RolloutSet], json_out: bool
) -> None:
    if json_out:
        emit_json({"type": "set", **set_json(store, repository(store).get(rollout.id))})
        return
    for s in settled:
        role = "control" if s.id != rollout.id else ("intervention" if s.injection else "set")
        console.print(
            f"{role} [bold]{s.id}[/] · [magenta]{s.status}[/] · {s.n} members. "
            f"Outcomes: [dim]aegntix rollouts show {s.id}[/]",
            soft_wrap=True,
        )


@app.command("create")
@handles_errors
def create(
    branch: Annotated[str, typer.Argument(help="Branch id (or unique prefix, or label).")],
    at: Annotated[int, typer.Option("--at", help="Fork after this step (0 = before step 1).")],
    n: Annotated[int, typer.Option("--n", help=f"Members (1..{MAX_ROLLOUTS}).")],
    inject: Annotated[
        str | None, typer.Option("--inject", help="Inject this text into every member.")
    ] = None,
    target: Annotated[
        list[str] | None, typer.Option("--target", help="Agent to inject into (repeatable).")
    ] = None,
    strategy: StrategyOption = "",
    spread: SpreadOption = None,
    wave: WaveOption = None,
    source: SourceOption = None,
    edge_p: EdgePOption = None,
    max_steps: MaxStepsOption = None,
    stance: Annotated[
        float | None, typer.Option(help="Stance the injection argues for (-1..1).")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="World fact key=value (broadcast).")
    ] = None,
    seed_base: Annotated[
        int | None,
        typer.Option("--seed-base", help="Override the seed base (default: from the fork point)."),
    ] = None,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
    processes: ProcessesOption = None,
    local: LocalOption = False,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Fork N members from BRANCH at --at, each with its own seed, and run them to the end.
    With --inject, also a control set with the same seeds and no injection."""
    if inject is None and (target or stance is not None or set_ or strategy or spread or wave):
        raise InvalidRequest(
            "--target/--strategy/--spread/--wave/--stance/--set need --inject TEXT"
        )
    if inject is None and any(v is not None for v in (source, edge_p, max_steps)):
        raise InvalidRequest("--source/--edge-p/--max-steps need --inject TEXT")
    how, schedule = chosen(strategy, target, spread, wave, (source, edge_p, max_steps))
    if not 1 <= n <= MAX_ROLLOUTS:
        raise InvalidRequest(f"--n: must be from 1 to {MAX_ROLLOUTS}, not {n}")
    if seed_base is not None:
        check_seed(seed_base, "--seed-base")
    spec = None
    if inject is not None:
        spec = InjectionSpec(
            inject,
            strategy=how,
            schedule=schedule,
            targets=target,
            fields={} if stance is None else {"stance": stance},
            world=parse_assignments(set_ or []),
        )
    with opened(db) as store:
        parent = resolve_branch(store, branch)
        rollout = create_set(store, parent.id, at, n, spec, seed_base=seed_base)
        if not json_out and not quiet:
            console.print(
                f"rollout set [bold]{rollout.id}[/]: {n} futures of {parent.id} from step {at}"
                + (f", paired with control {rollout.control_id}" if rollout.control_id else "")
            )
        _run_and_finish(store, rollout, _How(db, concurrency, processes, local, json_out, quiet))


@app.command("list")
@handles_errors
def list_(db: DbOption = "aegntix.db", json_out: JsonOption = False) -> None:
    """Every rollout set, oldest first, with its progress."""
    with opened(db) as store:
        rows = [set_json(store, s) for s in repository(store).list_sets()]
    if json_out:
        emit_json(rows)
        return
    table = Table("set", "parent", "at", "n", "done", "status", "injection", "control")
    for r in rows:
        injection = r["injection"]["content"] if r["injection"] else "—"
        table.add_row(
            r["id"],
            r["parent_id"],
            str(r["fork_step"]),
            str(r["n"]),
            f"{r['progress']['done']}/{r['progress']['total']}",
            r["status"],
            escape(injection[:40]),
            r["control_id"] or "—",
        )
    console.print(table)


def _resolve(store: SqlStore, ref: str) -> RolloutSet:
    repo = repository(store)
    return repo.get(repo.resolve(ref))


def _outcome_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict) and value:
        numbers = [v for v in value.values() if isinstance(v, int | float)]
        mean = f", mean {sum(numbers) / len(numbers):.3f}" if len(numbers) == len(value) else ""
        return f"{len(value)} agents{mean}"
    return "—" if value is None else str(value)


#: Sets up to this size list their members under the statistics without being asked.
SMALL_SET = 12


@app.command("show")
@handles_errors
def show(
    set_ref: SetArg,
    vs: Annotated[
        str | None,
        typer.Option("--vs", help="Compare with this set (default: the set's own control)."),
    ] = None,
    list_members: Annotated[
        bool,
        typer.Option("--members", help=f"List every future (sets of up to {SMALL_SET} always do)."),
    ] = False,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """Each outcome's distribution with a 95% CI, the effect against the set's control (or
    --vs SET) in words, histograms; with --members, every future and its outcomes."""
    from aegntix.analysis.study import set_stats  # scipy: paid only when used

    with opened(db) as store:
        rollout = _resolve(store, set_ref)
        info = set_json(store, rollout)
        listing = json_out or list_members or rollout.n <= SMALL_SET
        # every member's outcomes is a read per member: only when they are shown
        members = members_view(store, rollout.id) if listing else []
        other = _resolve(store, vs).id if vs else None
        stats = set_stats(store, rollout.id, vs=other)
    if json_out:
        emit_json({**info, "members": members, "stats": stats})
        return
    console.print(
        f"rollout set [bold]{rollout.id}[/] · [magenta]{rollout.status}[/] · "
        f"{info['progress']['done']}/{rollout.n} done · {rollout.parent_id} at step "
        f"{rollout.fork_step} · "
        + (
            f"injection: {escape(rollout.injection['content'])}"
            if rollout.injection
            else "no injection"
        )
        + (f" · control {rollout.control_id}" if rollout.control_id else ""),
        soft_wrap=True,
    )
    if rollout.error:
        console.print(f"[red]failed:[/] {escape(rollout.error)}", soft_wrap=True)
    print_stats(stats)
    if listing:
        console.print(_members_table(members))
    else:
        console.print(
            f"{rollout.n} futures: [bold]aegntix rollouts show {rollout.id} --members[/] "
            "lists each with its branch (open one with `aegntix events BRANCH`)"
        )


def _members_table(members: list[dict[str, Any]]) -> Table:
    names = sorted({k for m in members for k in (m["outcomes"] or {})})
    table = Table("#", "branch", "seed", "status", *names, title="futures")
    for m in members:
        outcomes = m["outcomes"] or {}
        table.add_row(
            str(m["index"]),
            m["branch_id"],
            str(m["seed"]),
            m["status"],
            *(_outcome_text(outcomes.get(k)) for k in names),
        )
    return table


@app.command("continue")
@handles_errors
def continue_(
    set_ref: SetArg,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
    processes: ProcessesOption = None,
    local: LocalOption = False,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Run only the unfinished members (after a crash or an interruption), control too."""
    with opened(db) as store:
        rollout = _resolve(store, set_ref)
        extend_set(store, rollout.id, rollout.n)  # forks members a crash left out, if any
        _run_and_finish(store, rollout, _How(db, concurrency, processes, local, json_out, quiet))


@app.command("extend")
@handles_errors
def extend(
    set_ref: SetArg,
    to: Annotated[int, typer.Option("--to", help="The new number of members.")],
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
    processes: ProcessesOption = None,
    local: LocalOption = False,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Grow the set (and its control) to --to members; the existing ones are not re-run."""
    with opened(db) as store:
        rollout = extend_set(store, _resolve(store, set_ref).id, to)
        _run_and_finish(store, rollout, _How(db, concurrency, processes, local, json_out, quiet))
