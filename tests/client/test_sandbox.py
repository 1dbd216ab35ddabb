"""The notebook surface on branches, end to end on both backends (a SQLite file, a PostgreSQL
URL): run a scenario, read its events, state and outcomes, fork (with and without an
injection), compare; bad input is the project's own errors and writes nothing; the database
is the CLI's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import aegntix
from aegntix.cli import app
from aegntix.errors import (
    BranchNotFound,
    ForkOutOfRange,
    InvalidRequest,
    RunFailed,
    ScenarioInvalid,
    StoreError,
)
from aegntix.model.events import EventKind
from tests.support import EXAMPLES

TOWN_HALL = EXAMPLES / "town-hall.yaml"
FLOOD = "The river flooded the car park."


def test_run_read_fork_compare(location: str) -> None:
    with aegntix.Sandbox(location) as sandbox:
        main = sandbox.run(TOWN_HALL, steps=3)
        assert (main.status, main.head_step, main.label) == ("idle", 3, "main")
        assert sandbox.branch(main.id[:6]) == main and sandbox.branch("main") == main

        events = main.events()
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert {e.step for e in events} == {0, 1, 2, 3}
        assert [e.step for e in main.events(from_step=2, to_step=2)] == [
            e.step for e in events if e.step == 2
        ]
        assert main.state()["step"] == 3 and main.state(at=1)["step"] == 1
        outcomes = main.outcomes()
        assert set(outcomes) == {"mean_stance", "spread", "consensus", "approved", "stance"}
        assert set(outcomes["stance"]) == {a.id for a in main.scenario.agents}

        # a fork with no intervention reproduces its parent hash for hash
        twin = main.fork(1).run(2)
        assert twin.parent == main and twin.head_step == 3
        assert twin.record.head_hash == main.record.head_hash
        assert main.compare(twin).divergence_step is None

        # with the news, the future differs from the step after the fork on
        news = main.fork(1, FLOOD, stance=0.9, label="flood")
        # the injection is recorded for step 2, which has not run yet
        assert news.label == "flood" and news.state()["completed"] == 1
        injected = [e for e in news.events(from_step=2) if e.kind is EventKind.INJECTION]
        assert [e.payload["content"] for e in injected] == [FLOOD]
        news.run()
        assert news.status == "done" and news.head_step == news.scenario.termination.max_steps
        comparison = news.compare(main.id)
        assert comparison.divergence_step == 2
        assert news.outcomes()["mean_stance"] > comparison.outcomes_b["mean_stance"]
        assert [b.id for b in sandbox.branches()] == [main.id, twin.id, news.id]


def test_the_database_is_the_cli_s(location: str) -> None:
    db = location
    with aegntix.Sandbox(db) as sandbox:
        dialect = sandbox.store.backend.engine.dialect.name
        assert dialect == ("postgresql" if db.startswith("postgresql") else "sqlite")
        branch = sandbox.run(TOWN_HALL, steps=2, seed=7, label="from-python")
    shown = CliRunner().invoke(app, ["branches", "--db", db, "--json"])
    assert shown.exit_code == 0, shown.output
    listed = json.loads(shown.output)
    assert [(b["id"], b["label"], b["seed"]) for b in listed] == [(branch.id, "from-python", 7)]
    with aegntix.Sandbox(db) as again:  # reopened: the same timeline
        assert again.branch("from-python").head_step == 2


def test_a_scenario_as_a_dict_and_tenants_apart(location: str) -> None:
    spec = {
        "name": "tiny",
        "agents": [
            {"id": "a", "name": "A", "role": "resident"},
            {"id": "b", "name": "B", "role": "resident"},
        ],
        "termination": {"max_steps": 2},
    }
    db = location
    with aegntix.Sandbox(db, tenant="alpha") as alpha:
        mine = alpha.run(spec)
        assert mine.status == "done" and mine.head_step == 2
    with aegntix.Sandbox(db, tenant="beta") as beta:
        assert beta.branches() == []
        with pytest.raises(BranchNotFound):
            beta.branch(mine.id)


@pytest.mark.parametrize("db", [None, ":memory:"])
def test_a_temporary_sandbox_leaves_nothing(db: str | None) -> None:
    # SQLite only: a temporary sandbox is a SQLite file in a temporary folder
    sandbox = aegntix.Sandbox(db)
    sandbox.run(TOWN_HALL, steps=1)
    path = sandbox.path
    assert path.exists()
    sandbox.close()
    sandbox.close()  # idempotent
    assert not path.parent.exists()
    with pytest.raises(StoreError, match="closed"):
        sandbox.branches()
    assert "closed" in repr(sandbox)


def test_a_bad_database_or_tenant_is_one_clear_error(tmp_path: Path) -> None:
    # SQLite only: a path that cannot be a file (for PostgreSQL see the CLI's transient tests)
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreError, match="not a directory"):
        aegntix.Sandbox(tmp_path / "file" / "s.db")
    with pytest.raises(InvalidRequest, match="tenant id must be"):
        aegntix.Sandbox(tmp_path / "s.db", tenant="no spaces please")


def test_bad_input_raises_project_errors_and_writes_nothing(tmp_path: Path, location: str) -> None:
    with aegntix.Sandbox(location) as sandbox:
        main = sandbox.run(TOWN_HALL, steps=2)
        before = [(b.id, b.record.head_seq) for b in sandbox.branches()]
        cases: list[tuple[type[Exception], str, object]] = [
            (ScenarioInvalid, "no such file", lambda: sandbox.run(tmp_path / "missing.yaml")),
            (ScenarioInvalid, "agents", lambda: sandbox.run({"name": "x"})),
            (InvalidRequest, "not int", lambda: sandbox.run(42)),  # type: ignore[arg-type]
            (InvalidRequest, "steps", lambda: sandbox.run(TOWN_HALL, steps=-1)),
            (InvalidRequest, "seed", lambda: sandbox.run(TOWN_HALL, seed=-5)),
            (BranchNotFound, "nope", lambda: sandbox.branch("nope")),
            (ForkOutOfRange, "step 9", lambda: main.fork(9, FLOOD)),
            (InvalidRequest, "need inject", lambda: main.fork(1, targets=["mayor"])),
            (InvalidRequest, "nobody", lambda: main.fork(1, FLOOD, targets=["nobody"])),
            (InvalidRequest, "n", lambda: main.rollouts(1, 0, FLOOD)),
            (InvalidRequest, "concurrency", lambda: main.rollouts(1, 2, concurrency=0)),
            (InvalidRequest, "steps", lambda: main.run(-2)),
        ]
        for error, needle, call in cases:
            with pytest.raises(error, match=needle):
                call()  # type: ignore[operator]
        assert [(b.id, b.record.head_seq) for b in sandbox.branches()] == before
        assert sandbox.rollout_sets() == []


def test_a_failed_run_says_where_and_keeps_the_reason(location: str) -> None:
    spec = {
        "name": "divides by zero",
        "agents": [{"id": "a", "name": "A", "role": "resident"}],
        "world": {"zero": 0},
        "outcomes": {"ratio": "1 / zero"},
        "termination": {"max_steps": 3},
    }
    with aegntix.Sandbox(location) as sandbox:
        with pytest.raises(RunFailed, match=r"failed at step 1: .*outcomes\.ratio"):
            sandbox.run(spec)
        (branch,) = sandbox.branches()
        assert branch.status == "failed" and branch.failure is not None
        assert branch.failure.step == 1


def test_a_url_password_is_never_shown(pg_url: str) -> None:
    user, _, rest = pg_url.removeprefix("postgresql://").partition("@")
    url = f"postgresql://{user}:hunter2@{rest}"  # trust auth: any password is accepted
    with aegntix.Sandbox(url) as sandbox:
        assert "hunter2" not in repr(sandbox) and "hunter2" not in sandbox.database
