"""Emergence metrics read from real timelines: scripted runs on a real store, a constructed
3-agent influence case, groups echo chambers, and equality between a fork and its parent."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from aegntix.analysis.rollouts import create_set, repository, run_sets
from aegntix.analysis.set_metrics import member_metrics, set_metrics
from aegntix.brains.base import Decision, Observation
from aegntix.engine import Runner, start_scenario
from aegntix.model.loading import validate_scenario
from aegntix.swarm.metrics import branch_metrics, summary
from aegntix.swarm.stance_stats import esteban_ray
from aegntix.timeline import SqlStore, compare

from .support import run_with, swarm


def _influence_script(obs: Observation, rng: random.Random) -> Decision:
    me, step = obs.agent.id, obs.step
    if step == 1 and me == "a0":
        return Decision(action="say", content="the bridge is a bad idea")
    if step == 2 and me == "a1":
        return Decision(action="pass", stance=-0.5)
    if step == 3 and me == "a2":
        return Decision(action="say", content="it is a fine idea", to=["a1"])
    if step == 4 and me == "a1":
        return Decision(action="pass", stance=0.0)
    return Decision(action="pass")


def test_influence_on_a_constructed_three_agent_case(store: SqlStore) -> None:
    # a0 -1, a1 0, a2 1 (mesh). Step 1: a0 speaks to all; step 2: a1 moves 0 -> -0.5
    # toward a0 (+0.5), a2 does not move. Step 3: a2 speaks to a1 only; step 4: a1 moves
    # -0.5 -> 0 toward a2 (+0.5).
    branch, _ = run_with(store, swarm(3, None), _influence_script, 4)
    m = branch_metrics(store, branch)
    assert m.influence == {"a0": 0.5, "a1": 0.0, "a2": 0.5}
    assert [s.heard for s in m.steps] == [0, 2, 0, 1, 0]
    assert [s.step for s in m.steps] == [0, 1, 2, 3, 4]
    assert [s.stance_spread for s in m.steps] == [2.0, 2.0, 2.0, 2.0, 2.0]
    assert [s.opinion_clusters for s in m.steps] == [3, 3, 3, 3, 3]
    assert m.steps[2].mean_stance == pytest.approx(-0.5 / 3, abs=1e-6)
    assert m.echo_chamber is None and m.consensus_step is None


def _converge(obs: Observation, rng: random.Random) -> Decision:
    own = float(obs.own["stance"])
    if obs.step >= 3:
        return Decision(action="pass", stance=0.0)
    return Decision(action="say", content=f"{own:+.1f}", stance=own)


def test_consensus_step_and_polarization_per_step(store: SqlStore) -> None:
    branch, _ = run_with(store, swarm(4, None), _converge, 5)
    m = branch_metrics(store, branch)
    stances = [-1.0, -0.333, 0.333, 1.0]  # cast(4), rounded to 3 places
    assert m.steps[0].polarization == round(esteban_ray(stances), 6)
    assert [s.stance_spread for s in m.steps] == [2.0, 2.0, 2.0, 0.0, 0.0, 0.0]
    assert m.consensus_step == 3
    assert m.final is not None and m.final.polarization == 0.0
    assert m.final.opinion_clusters == 1
    assert [s.heard for s in m.steps] == [0, 12, 12, 0, 0, 0]  # 4 speakers x 3 hearers


def _chatter(obs: Observation, rng: random.Random) -> Decision:
    return Decision(action="say", content="hello") if obs.step == 1 else Decision(action="pass")


def test_echo_chamber_of_a_groups_topology(store: SqlStore) -> None:
    # groups {a0,a1,a2} and {a3,a4,a5}, one bridge a2-a3. Hearings in step 1: each agent
    # hears its 2 group mates (12 inside) plus a2 and a3 hear each other (2 outside).
    topology = {
        "kind": "groups",
        "groups": {"left": ["a0", "a1", "a2"], "right": ["a3", "a4", "a5"]},
        "bridges": [["a2", "a3"]],
    }
    branch, _ = run_with(store, swarm(6, topology), _chatter, 2)
    m = branch_metrics(store, branch)
    assert m.steps[1].heard == 14
    assert m.steps[1].echo_chamber == round(12 / 14, 6)
    assert m.steps[1].ei_index == round((2 - 12) / 14, 6)
    assert m.echo_chamber == round(12 / 14, 6)
    assert m.steps[2].echo_chamber is None  # nobody spoke


def test_mesh_has_no_echo_chamber_index(store: SqlStore) -> None:
    branch, _ = run_with(store, swarm(3, None), _chatter, 1)
    m = branch_metrics(store, branch)
    assert m.steps[1].heard == 6 and m.echo_chamber is None


@pytest.mark.parametrize(
    "topology",
    [
        None,
        {"kind": "small_world", "k": 2, "p": 0.3},
        {
            "kind": "groups",
            "groups": {"x": ["a0", "a1", "a2", "a3"], "y": ["a4", "a5", "a6", "a7"]},
            "bridges": [["a3", "a4"]],
        },
    ],
)
def test_a_fork_rerun_and_a_fork_point_give_the_parents_metrics(
    store: SqlStore, topology: dict[str, Any] | None
) -> None:
    scenario = swarm(8, topology)  # rules brain: deterministic from the seed
    branch = start_scenario(store, scenario)
    asyncio.run(Runner(store, branch.id).run(6))
    parent = branch_metrics(store, branch.id)
    fork = store.fork(branch.id, 2)
    at_fork = branch_metrics(store, fork.id)
    assert at_fork.steps == parent.steps[:3]
    asyncio.run(Runner(store, fork.id).run(4))
    rerun = branch_metrics(store, fork.id)
    assert rerun.to_json() == {**parent.to_json(), "branch_id": fork.id}
    assert any(s.heard for s in parent.steps)


def test_compare_shows_both_branches_metrics(store: SqlStore) -> None:
    branch, _ = run_with(store, swarm(4, None), _converge, 5)
    other, _ = run_with(store, swarm(4, None), _chatter, 5)
    result = compare(store, branch, other)
    assert result.metrics_a["consensus_step"] == 3
    assert result.metrics_b["consensus_step"] is None
    assert result.metrics_a["polarization"] == 0.0
    assert result.metrics_b["opinion_clusters"] == 4
    assert result.metrics_deltas["opinion_clusters"] == 3
    assert "consensus_step" not in result.metrics_deltas  # one side never reached it


def test_rollout_set_metrics_summarize_each_members_timeline(store: SqlStore) -> None:
    groups = {"kind": "groups", "groups": {"x": ["a0", "a1", "a2"], "y": ["a3", "a4", "a5"]}}
    scenario = swarm(6, groups, termination={"max_steps": 5})
    branch = start_scenario(store, scenario)
    asyncio.run(Runner(store, branch.id).run(2))
    made = create_set(store, branch.id, 1, 3)
    asyncio.run(run_sets(store, [made], processes=0))
    repo = repository(store)
    members = member_metrics(store, repo, made.id)
    expected = [summary(branch_metrics(store, h.branch_id)) for h in repo.member_heads(made.id)]
    assert members == expected and len(members) == 3
    found = set_metrics(store, repo, made.id)
    assert found["polarization"].n == 3
    assert found["polarization"].mean == pytest.approx(sum(m["polarization"] for m in members) / 3)
    assert found["echo_chamber"].mean == 1.0  # no bridges: everyone hears only its group
    assert found["reached_consensus"].n == 3


TOPOLOGIES: list[dict[str, Any] | None] = [
    None,
    {"kind": "ring"},
    {"kind": "small_world", "k": 2, "p": 0.3},
    {"kind": "scale_free", "m": 1},
    {"kind": "groups", "groups": {"x": ["a0", "a1", "a2"], "y": ["a3", "a4", "a5"]}},
]


@settings(max_examples=10, deadline=None)
@given(st.sampled_from(TOPOLOGIES), st.integers(0, 4), st.integers(0, 1000))
def test_metrics_up_to_a_fork_point_are_the_parents(
    store: SqlStore, topology: dict[str, Any] | None, at: int, seed: int
) -> None:
    branch = start_scenario(store, swarm(6, topology, seed=seed))
    asyncio.run(Runner(store, branch.id).run(4))
    parent = branch_metrics(store, branch.id)
    fork = branch_metrics(store, store.fork(branch.id, at).id)
    assert fork.steps == parent.steps[: at + 1]


def test_a_scenario_without_stances_has_no_consensus(store: SqlStore) -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / "negotiation.yaml"
    branch = start_scenario(store, validate_scenario(yaml.safe_load(path.read_text())))
    asyncio.run(Runner(store, branch.id).run(2))
    m = branch_metrics(store, branch.id)
    assert [s.stances for s in m.steps] == [0, 0, 0]
    assert m.consensus_step is None and m.final is not None and m.final.polarization == 0.0
