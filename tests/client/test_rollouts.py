"""Rollout sets through the notebook surface on both backends: the statistics and the
typed effect are exactly what the CLI and the API serve (``set_stats``); the members table's
shape and dtypes; extend and resume; the same calls inside a running event loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

import aegntix
from aegntix.analysis.rollouts import create_set
from aegntix.analysis.study import set_stats
from aegntix.cli import app
from aegntix.client._sync import loop_running
from aegntix.errors import InvalidRequest
from aegntix.timeline import open_store
from tests.support import EXAMPLES

TOWN_HALL = EXAMPLES / "town-hall.yaml"
FLOOD = "The river flooded the car park."
N = 6


@pytest.fixture(scope="module")
def study(module_db: str) -> Iterator[tuple[str, aegntix.RolloutSet]]:
    db = module_db
    with aegntix.Sandbox(db) as sandbox:
        main = sandbox.run(TOWN_HALL, steps=3)
        progress: list[tuple[str, int, int]] = []
        flood = main.rollouts(
            2, N, FLOOD, stance=0.9, on_progress=lambda *p: progress.append(tuple(p))
        )
        assert flood.control is not None
        assert (flood.control.id, N, N) in progress and (flood.id, N, N) in progress
        yield db, flood


def test_the_set_and_its_control(study: tuple[str, aegntix.RolloutSet]) -> None:
    _, flood = study
    control = flood.control
    assert control is not None
    assert (flood.n, flood.status, flood.fork_step) == (N, "done", 2)
    assert flood.injection is not None and flood.injection["content"] == FLOOD
    assert control.injection is None and control.control is None
    assert flood.seeds == control.seeds and len(set(flood.seeds)) == N
    members = flood.members()
    assert [m.index for m in members] == list(range(N))
    assert [m.seed for m in members] == flood.seeds
    assert all(m.status == "done" and m.outcomes is not None for m in members)
    assert flood.member(3).id == members[3].branch_id
    sandbox = flood.parent._sandbox
    assert sandbox.rollout_set(flood.id[:6]) == flood
    assert sandbox.rollout_sets() == [flood, control]


def test_stats_and_effects_are_the_cli_s(study: tuple[str, aegntix.RolloutSet]) -> None:
    db, flood = study
    store = open_store(db)
    try:
        expected = set_stats(store, flood.id)
    finally:
        store.close()
    assert flood.stats() == expected
    shown = CliRunner().invoke(app, ["rollouts", "show", flood.id, "--db", db, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["stats"] == json.loads(json.dumps(expected))

    for name in ("approved", "mean_stance"):
        effect = flood.effect(name)
        raw = expected["outcomes"][name]["effect"]
        assert (effect.outcome, effect.kind, effect.paired) == (name, raw["kind"], True)
        assert (effect.difference, effect.ci_low, effect.ci_high) == (
            raw["difference"],
            raw["ci_low"],
            raw["ci_high"],
        )
        assert (effect.effect_size, effect.p_value) == (raw["effect_size"], raw["p_value"])
        assert effect.detectable is raw["detectable"] is True
        assert str(effect) == raw["sentence"] and effect.treated.n == N
        page = effect._repr_html_()
        assert "<table>" in page and "paired (same seeds)" in page
        assert raw["sentence"].split(" [")[0] in page
    approved = flood.effect("approved")
    assert approved.kind == "yes/no" and approved.sentence.startswith("approved in ")
    summary = flood.summary("mean_stance")
    assert summary.n == N and summary.ci_low is not None and summary.ci_high is not None
    assert summary.ci_low <= summary.mean <= summary.ci_high  # type: ignore[operator]

    # per agent: each resident's stance shift, with its own interval
    shifts = flood.agent_effects("stance")
    raw_agents = expected["outcomes"]["stance"]["agents"]
    assert set(shifts) == set(raw_agents) and len(shifts) == 9
    assert all(e.paired and e.difference == raw_agents[a]["difference"] for a, e in shifts.items())
    assert all(e.difference is not None and e.difference > 0 for e in shifts.values())

    # unpaired: the control against the intervention set, by id prefix
    control = flood.control
    assert control is not None
    against = control.effect("mean_stance", vs=flood.id[:8])
    assert not against.paired and against.difference is not None and against.difference < 0


def test_effect_errors_are_readable(study: tuple[str, aegntix.RolloutSet]) -> None:
    _, flood = study
    with pytest.raises(InvalidRequest, match=r"no outcome 'turnout'.*approved"):
        flood.effect("turnout")
    with pytest.raises(InvalidRequest, match="per agent"):
        flood.effect("stance")
    assert flood.control is not None
    with pytest.raises(InvalidRequest, match="no control"):
        flood.control.effect("approved")
    with pytest.raises(InvalidRequest, match="no paired control"):
        flood.control.agent_effects("stance")
    with pytest.raises(InvalidRequest, match=r"not a per-agent outcome; use effect\('approved'\)"):
        flood.agent_effects("approved")
    with pytest.raises(InvalidRequest, match=r"members 0\.\.5, not 9"):
        flood.member(9)


def test_members_table(study: tuple[str, aegntix.RolloutSet]) -> None:
    _, flood = study
    frame = flood.to_pandas()
    assert frame.shape[0] == N and frame.index.name == "member"
    assert list(frame.index) == list(range(N))
    assert list(frame["seed"]) == flood.seeds
    assert str(frame["seed"].dtype) == "int64" and str(frame["head_step"].dtype) == "int64"
    assert frame["approved"].dtype == bool and frame["approved_control"].dtype == bool
    assert frame["mean_stance"].dtype == float and frame["stance.mayor_control"].dtype == float
    assert frame["approved"].all() and not frame["approved_control"].any()
    assert (frame["mean_stance"] > frame["mean_stance_control"]).all()
    members = flood.members()
    assert list(frame["branch_id"]) == [m.branch_id for m in members]
    control = flood.control
    assert control is not None
    assert list(frame["branch_id_control"]) == [m.branch_id for m in control.members()]
    # the control alone: no _control columns
    assert not any(c.endswith("_control") for c in control.to_pandas().columns)


def test_events_and_outcomes_tables(study: tuple[str, aegntix.RolloutSet]) -> None:
    _, flood = study
    member = flood.member(0)
    events = member.events()
    frame = events.to_pandas()
    assert frame.shape == (len(events), 9)
    assert list(frame["seq"]) == [e.seq for e in events]
    assert str(frame["seq"].dtype) == "int64" and str(frame["kind"].dtype) == "category"
    said = frame[frame["kind"] == "injection"]
    assert list(said["text"]) == [FLOOD]
    outcomes = member.outcomes().to_pandas()
    assert outcomes.shape[0] == 1 and list(outcomes.index) == [member.id]
    assert outcomes.loc[member.id, "approved"] == member.outcomes()["approved"]
    assert "stance.mayor" in outcomes.columns


def test_extend_and_resume(location: str) -> None:
    with aegntix.Sandbox(location) as sandbox:
        main = sandbox.run(TOWN_HALL, steps=2)
        flood = main.rollouts(1, 2, FLOOD, stance=0.9)
        first = [(m.branch_id, m.status) for m in flood.members()]
        assert flood.extend(4) is flood
        assert flood.n == 4 and flood.status == "done"
        assert [(m.branch_id, m.status) for m in flood.members()][:2] == first
        assert flood.control is not None and flood.control.n == 4

        # as after a crash: a set recorded and forked, never run
        made = create_set(sandbox.store, main.id, 1, 3)
        left = sandbox.rollout_set(made.id)
        assert left.status == "running" and {m.status for m in left.members()} == {"idle"}
        left.resume()
        assert left.status == "done" and {m.status for m in left.members()} == {"done"}
        # the same seeds give the same futures: control members are the plain forks
        assert [m.seed for m in left.members()] == left.seeds


async def test_inside_a_running_event_loop(location: str) -> None:
    """As in Jupyter: the caller's thread runs a loop, so asyncio.run would refuse."""
    assert loop_running()
    with aegntix.Sandbox(location) as sandbox:
        main = sandbox.run(TOWN_HALL, steps=3)
        assert main.head_step == 3
        flood = main.rollouts(2, 3, FLOOD, stance=0.9)
        assert flood.status == "done" and flood.effect("approved").detectable
        assert main.fork(2).run().status == "done"
        # handed to a thread, the caller's loop stays free meanwhile
        again = await asyncio.to_thread(main.rollouts, 2, 2, seed_base=11)
        assert again.status == "done" and again.control is None
