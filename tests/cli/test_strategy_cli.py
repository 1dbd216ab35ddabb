"""Injection strategies on the command line: ``--strategy`` choices from the registry,
``--spread``/``--wave`` for a gradual injection, one readable line for bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aegntix.cli import app
from aegntix.timeline import open_store
from tests.support import EXAMPLES, example

cli = CliRunner()
NEWS = "An independent study finds the barrier will save homes and jobs."


def _root(db: str) -> str:
    result = cli.invoke(
        app, ["run", str(EXAMPLES / "town-hall.yaml"), "--db", db, "--json", "--steps", "4"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output.splitlines()[0])["branch_id"]


@pytest.fixture(scope="module")
def recorded(module_db: str) -> tuple[str, str]:
    """A database with a 4-step run, and its branch id: one per backend, shared by the tests
    of input refused before anything is written."""
    return module_db, _root(module_db)


def test_the_help_lists_every_registered_strategy() -> None:
    result = cli.invoke(app, ["fork", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in ("direct", "broadcast", "gradual", "organic", "--source", "--edge-p"):
        assert name in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--strategy", "viral"],
            "--strategy: 'viral' is not one of direct, broadcast, gradual, organic",
        ),
        (["--source", "agent:nobody"], "schedule.source: 'agent:nobody' is not 'news'"),
        (["--strategy", "gradual", "--edge-p", "0.5"], "only --strategy organic takes them"),
        (["--max-steps", "0"], "schedule.max_steps: a whole number from 1 to 19"),
        (["--strategy", "gradual"], "schedule: a gradual injection needs a schedule"),
        (["--strategy", "broadcast", "--spread", "2"], "only --strategy gradual takes them"),
        (["--spread", "0"], "--spread: must be from 1 to 20, not 0"),
        (["--spread", "2", "--wave", "0=mayor"], "give one of them, not both"),
        (["--wave", "soon=mayor"], "--wave: 'soon=mayor' is not OFFSET=agent,agent"),
        (["--wave", "0=mayor", "--wave", "1=mayor"], "mayor already in an earlier wave"),
    ],
)
def test_a_bad_strategy_or_schedule_is_one_line(
    recorded: tuple[str, str], args: list[str], message: str
) -> None:
    db, root = recorded
    result = cli.invoke(app, ["fork", root, "--at", "2", "--inject", NEWS, *args, "--db", db])
    assert result.exit_code == 2, result.output
    assert result.output.count("error:") == 1 and message in result.output, result.output


def test_fork_with_a_gradual_spread_writes_its_waves_as_explained(db: str) -> None:
    root = _root(db)
    spread = ["--strategy", "gradual", "--spread", "3"]
    explained = cli.invoke(
        app,
        ["fork", root, "--at", "2", "--inject", NEWS, *spread, "--explain", "--json", "--db", db],
    )
    assert explained.exit_code == 0, explained.output
    plan = json.loads(explained.output)["schedule"]
    assert [w["step"] for w in plan] == [3, 4, 5]
    made = cli.invoke(
        app,
        [
            *("fork", root, "--at", "2", "--inject", NEWS, "--spread", "3"),
            *("--label", "spread", "--run", "3", "--db", db, "--quiet"),
        ],
    )
    assert made.exit_code == 0, made.output
    store = open_store(db)
    try:
        (child,) = [b for b in store.list_branches() if b.label == "spread"]
        found = [e for e in store.events(child.id) if e.kind == "injection"]
    finally:
        store.close()
    assert found[0].payload["strategy"] == "gradual"  # --spread alone means gradual
    assert [w["agents"] for w in found[0].payload["waves"]] == [w["agents"] for w in plan]
    assert [(e.step, e.payload["targets"]) for e in found[1:]] == [
        (w["step"], w["agents"]) for w in plan[1:]
    ]


def test_inject_takes_explicit_waves(db: str) -> None:
    root = _root(db)
    result = cli.invoke(
        app, ["inject", root, NEWS, "--wave", "0=mayor", "--wave", "2=shop,nurse", "--db", db]
    )
    assert result.exit_code == 0, result.output
    store = open_store(db)
    try:
        (landed,) = [e for e in store.events(root) if e.kind == "injection"]
    finally:
        store.close()
    assert landed.payload["waves"] == [
        {"offset": 0, "agents": ["mayor"]},
        {"offset": 2, "agents": ["nurse", "shop"]},
    ]


def test_an_organic_fork_on_a_mesh_reaches_everyone_one_step_after_its_source(db: str) -> None:
    """town-hall has no topology (a mesh): the mayor's neighbours are everyone else."""
    root = _root(db)
    organic = ["--source", "agent:mayor", "--edge-p", "1", "--max-steps", "2"]
    explained = cli.invoke(
        app,
        ["fork", root, "--at", "2", "--inject", NEWS, *organic, "--explain", "--json", "--db", db],
    )
    assert explained.exit_code == 0, explained.output
    found = json.loads(explained.output)
    others = sorted(a.id for a in example("town-hall").agents if a.id != "mayor")
    assert found["strategy"] == "organic"  # --source alone means organic
    assert found["schedule"] == [{"step": 3, "agents": others}]
    made = cli.invoke(
        app,
        [
            *("fork", root, "--at", "2", "--inject", NEWS, "--strategy", "organic"),
            *("--target", "shop", "--label", "talk", "--run", "2", "--db", db, "--quiet"),
        ],
    )
    assert made.exit_code == 0, made.output
    store = open_store(db)
    try:
        (child,) = [b for b in store.list_branches() if b.label == "talk"]
        found_events = [e for e in store.events(child.id) if e.kind == "injection"]
    finally:
        store.close()
    assert [(e.step, e.payload.get("targets")) for e in found_events] == [
        (3, ["shop"]),
        (4, sorted({*others, "mayor"} - {"shop"})),
    ]
    assert found_events[1].payload["content"].endswith(f"passes on: {NEWS}")


def test_organic_options_without_an_injection_are_one_line(recorded: tuple[str, str]) -> None:
    db, root = recorded
    result = cli.invoke(app, ["fork", root, "--at", "2", "--source", "news", "--db", db])
    assert result.exit_code == 2, result.output
    assert "--source/--edge-p/--max-steps need --inject TEXT" in result.output
