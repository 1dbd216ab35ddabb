"""The Delphi protocol: the round summary on constructed inputs, convergence in the expected
number of rounds with the rules brain, the round limit and quorum, anonymity, option checks,
an injected expert estimate shifting a fork's median, and fork identity."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aegntix.brains.prompting import user_prompt
from aegntix.engine import Runner, start_scenario
from aegntix.engine.observation import Window, observe
from aegntix.errors import ScenarioInvalid
from aegntix.inject.strategies import inject
from aegntix.mechanics.consensus import quartiles
from aegntix.mechanics.delphi import DelphiOptions, summarise
from aegntix.model.loading import validate_scenario
from aegntix.model.state import initial_state
from aegntix.timeline import SqlStore
from aegntix.timeline.state import state_at

PRIORS = [100, 150, 200, 300, 500]  # q1 150, median 200, q3 300: IQR 150


def _spec(
    delphi: dict[str, Any] | None = None, priors: list[float | None] = PRIORS, **persona: float
) -> dict[str, Any]:
    calm = {"agreeableness": 0.8, "openness": 0.0, "neuroticism": 0.0, **persona}
    agents = [
        {
            "id": f"p{i}",
            "name": f"Panelist {i}",
            "role": "analyst",
            "persona": calm,
            **({} if prior is None else {"estimate": prior}),
        }
        for i, prior in enumerate(priors)
    ]
    return {
        "name": "Panel",
        "topic": "the number of people hurt",
        "seed": 11,
        "mechanics": {"delphi": {"iqr_threshold": 20, **(delphi or {})}},
        "agents": agents,
        "termination": {"max_steps": 20, "when": "concluded"},
        "outcomes": {
            "decision": "decision",
            "decided_round": "decided_round",
            "agreement": "agreement",
            "median": "median",
        },
    }


def _rounds(store: SqlStore, branch_id: str) -> list[dict[str, Any]]:
    return [e.payload for e in store.events(branch_id) if e.payload.get("cause") == "delphi"]


def test_quartiles_interpolate_between_order_statistics():
    assert quartiles([100, 150, 200, 300, 500]) == (150, 200, 300)
    assert quartiles([1, 2, 3, 4]) == (1.75, 2.5, 3.25)
    assert quartiles([7]) == (7, 7, 7)


def test_a_round_converges_when_the_iqr_falls_under_the_threshold_with_quorum():
    opts = DelphiOptions(iqr_threshold=20)
    wide = summarise([100, 150, 200, 300, 500], opts, 5)
    assert (wide["median"], wide["iqr"], wide["converged"], wide["agreement"]) == (
        200,
        150,
        False,
        0.2,
    )
    narrow = summarise([190, 195, 200, 205, 260], opts, 5)
    assert (narrow["iqr"], narrow["converged"], narrow["agreement"]) == (10, True, 0.8)
    few = summarise([200, 201], opts, 5)  # 2 of 5: under the default quorum of 3
    assert (few["iqr"] < 20, few["converged"]) == (True, False)
    exact = summarise([180, 190, 200, 210, 220], opts, 5)  # IQR exactly 20: not under it
    assert (exact["iqr"], exact["converged"]) == (20, False)
    relative = summarise(
        [190, 195, 200, 205, 260], DelphiOptions(iqr_threshold=0.04, relative=True), 5
    )
    assert (relative["threshold"], relative["converged"]) == (8, False)


@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=40), st.floats(0.01, 1e5))
def test_at_convergence_at_least_the_middle_of_the_panel_agrees(values: list[float], thr: float):
    opts = DelphiOptions(iqr_threshold=thr)
    found = summarise(values, opts, len(values))
    if found["converged"]:
        inside = sum(found["q1"] <= x <= found["q3"] for x in values)
        assert found["agreement"] >= inside / len(values) - 1e-9


@pytest.mark.parametrize(("agreeableness", "expected"), [(0.8, 4), (0.3, 9), (0.5, 6)])
def test_the_rules_panel_converges_in_the_expected_number_of_rounds(
    store: SqlStore, agreeableness: float, expected: int
):
    # Alike and calm, each panelist moves α = 0.1 + 0.5·a of the way to the median: the
    # median holds at 200 and the IQR shrinks to 150·(1 − α)^(r − 1), under 20 at round r.
    alpha = 0.1 + 0.5 * agreeableness
    assert expected == 1 + math.ceil(math.log(20 / 150) / math.log(1 - alpha) + 1e-12)
    branch = start_scenario(store, validate_scenario(_spec(agreeableness=agreeableness)))
    summary = asyncio.run(Runner(store, branch.id).run())
    rounds = _rounds(store, branch.id)
    assert [r["round"] for r in rounds] == list(range(1, expected + 1))
    assert [r["iqr"] for r in rounds] == pytest.approx(
        [150 * (1 - alpha) ** k for k in range(expected)]
    )
    assert {r["median"] for r in rounds} == {200}
    assert summary.completed_step == expected
    assert summary.outcomes["decision"] == 200
    assert summary.outcomes["decided_round"] == expected
    assert rounds[-1]["converged"] and not any(r["converged"] for r in rounds[:-1])


def test_the_round_limit_ends_an_unconverged_panel_without_a_decision(store: SqlStore):
    spec = _spec({"max_rounds": 2}, agreeableness=0.0)  # α = 0.1: far from converging
    branch = start_scenario(store, validate_scenario(spec))
    summary = asyncio.run(Runner(store, branch.id).run())
    assert summary.completed_step == 2
    assert summary.outcomes["decision"] is None and summary.outcomes["decided_round"] is None
    assert summary.outcomes["median"] == 200


def test_panelists_without_a_prior_join_after_the_first_feedback(store: SqlStore):
    spec = _spec(priors=[180, 200, 220, None, None])
    branch = start_scenario(store, validate_scenario(spec))
    asyncio.run(Runner(store, branch.id).run())
    rounds = _rounds(store, branch.id)
    assert rounds[0]["n"] == 3 and set(rounds[0]["estimates"]) == {"p0", "p1", "p2"}
    assert rounds[1]["n"] == 5


def test_estimates_stay_anonymous(store: SqlStore):
    scenario = validate_scenario(_spec(extraversion=1.0))
    branch = start_scenario(store, scenario)
    asyncio.run(Runner(store, branch.id).run(2))
    events = list(store.events(branch.id))
    said = [e for e in events if e.kind == "message"]
    assert said, "extraverted panelists say why they revise"
    assert all("estimate" not in e.payload["fields"] for e in said)
    state = state_at(store, branch.id)
    prompt = user_prompt(observe(scenario, state, "p0", 3, Window(3)))
    assert "delphi_median = 200" in prompt and "delphi_iqr = 75" in prompt
    own = state["agents"]["p0"]["_estimate"]
    assert f"_estimate {own:g}" in prompt  # its own, shown to itself
    for other in ("p1", "p2", "p3", "p4"):
        assert f"_estimate {state['agents'][other]['_estimate']:g}" not in prompt


def test_an_injected_expert_estimate_shifts_a_forks_median(store: SqlStore):
    branch = start_scenario(store, validate_scenario(_spec()))
    asyncio.run(Runner(store, branch.id).run())
    told = inject(store, branch.id, "An epidemiologist puts the figure at 600.", at_step=1)
    asyncio.run(Runner(store, told.branch.id).run())
    before, after = _rounds(store, branch.id), _rounds(store, told.branch.id)
    assert before[0] == after[0]  # round 1 was before the fork
    assert after[1]["median"] > before[1]["median"] + 50
    # the same without the injection reproduces the parent (null-intervention identity)
    child = store.fork(branch.id, at_step=1)
    asyncio.run(Runner(store, child.id).run())
    assert [e.hash for e in store.events(child.id)] == [e.hash for e in store.events(branch.id)]


@pytest.mark.parametrize(
    ("delphi", "field", "reason"),
    [
        ({"iqr_threshold": 0}, "mechanics.delphi.iqr_threshold", "greater than 0"),
        ({"quorum": 9}, "mechanics.delphi.quorum", "more than the 5 panelists"),
        ({"panel": ["p0", "x"]}, "mechanics.delphi.panel", "'x' is not an agent"),
        ({"low": 10, "high": 5}, "mechanics.delphi.high", "above low"),
        ({"low": 0, "high": 400}, "agents.4.estimate", "outside the panel's low..high"),
    ],
)
def test_bad_options_are_refused_with_their_field(delphi: dict[str, Any], field: str, reason: str):
    with pytest.raises(ScenarioInvalid) as caught:
        validate_scenario(_spec(delphi))
    fields = {p.field: p.reason for p in caught.value.problems}
    assert field in fields, fields
    assert reason in fields[field]


def test_a_threshold_is_required_and_estimates_need_the_delphi_kind():
    spec = _spec()
    spec["mechanics"] = "delphi"
    with pytest.raises(ScenarioInvalid, match="iqr_threshold"):
        validate_scenario(spec)
    spec["mechanics"] = "opinion"
    with pytest.raises(ScenarioInvalid, match="'estimate' is read by the 'delphi' mechanics"):
        validate_scenario(spec)
    assert initial_state(validate_scenario(_spec()))["agents"]["p0"] == {"_estimate": None}
