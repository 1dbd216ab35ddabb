"""`aegntix demo`: the product in one command — run, fork with an injection, compare."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.rule import Rule

from aegntix.cli.common import DbOption, console, handles_errors, opened
from aegntix.cli.running import drive_run
from aegntix.cli.timelines import compare
from aegntix.engine import Runner, start_scenario
from aegntix.inject import inject
from aegntix.model.loading import load_scenario

DEMO_INJECTION = (
    "Your landlord just called: the lease on the second shop starts Friday and you must "
    "have a van by then. The deadline is urgent — a competing offer won't wait."
)


@handles_errors
def demo(
    scenario_file: Annotated[Path, typer.Argument(help="Scenario to demo.")] = Path(
        "examples/negotiation.yaml"
    ),
    at: Annotated[int, typer.Option("--at", help="Fork after this step.")] = 3,
    target: Annotated[str, typer.Option(help="Agent that receives the injection.")] = "buyer",
    text: Annotated[str, typer.Option("--inject", help="What to inject.")] = DEMO_INJECTION,
    db: DbOption = "aegntix.db",
) -> None:
    """Run a scenario, fork it at a past step with a private injection, and compare."""
    scenario = load_scenario(scenario_file)
    rule = min(console.width, 100)  # piped, the console is very wide: keep the rules short
    with opened(db, create=True) as store:
        console.print(Rule(f"[bold]{scenario.name}[/] — the original timeline"), width=rule)
        root = start_scenario(store, scenario)
        drive_run(store, Runner(store, root.id), None, json_out=False, quiet=False)

        console.print(
            Rule(f"[bold]what if[/] — fork after step {at}, tell {target} something"), width=rule
        )
        fork = inject(
            store,
            root.id,
            text,
            targets=[target],
            strategy="direct",
            at_step=at,
            new_branch=True,
            label="what-if",
        ).branch
        drive_run(store, Runner(store, fork.id), None, json_out=False, quiet=False)

    console.print(Rule("[bold]compare[/] — the two futures"), width=rule)
    compare(root.id, fork.id, db=db, json_out=False)
    console.print(
        f"\nExplore: [bold]aegntix branches --db {db}[/], "
        f"[bold]aegntix events {fork.id} --db {db}[/], "
        f"[bold]aegntix state {root.id} --step {at} --db {db}[/]",
        soft_wrap=True,
    )
