"""The emergent baseline beside the vote: ``bounded_confidence`` is the opinion kind (same
stances, same rules-brain dynamics, same events per decision) plus a convergence round each
step with the protocols' outcomes; protocols cannot be combined with each other; kinds
without options refuse them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from aegntix.engine import Runner, start_scenario
from aegntix.errors import ScenarioInvalid
from aegntix.mechanics import mechanics_of, options_of
from aegntix.model.events import canonical_json
from aegntix.model.loading import validate_scenario
from aegntix.model.scenario import stored_scenario
from aegntix.timeline import SqlStore

AGENTS = [
    {"id": f"a{i}", "name": f"Agent {i}", "role": "resident", "stance": s,
     "persona": {"openness": 0.9, "agreeableness": 0.9, "conscientiousness": 0.0}}
    for i, s in enumerate([-0.3, -0.1, 0.1, 0.35])
]  # fmt: skip


def _spec(mechanics: Any) -> dict[str, Any]:
    return {
        "name": "Debate",
        "topic": "the new park",
        "seed": 9,
        "mechanics": mechanics,
        "agents": AGENTS,
        "termination": {"max_steps": 12, "when": "concluded"},
        "outcomes": {
            "decision": "decision",
            "decided_round": "decided_round",
            "agreement": "agreement",
            "mean_stance": "mean_stance",
        },
    }


def _run(store: SqlStore, spec: dict[str, Any], steps: int | None = None) -> Any:
    branch = start_scenario(store, validate_scenario(spec))
    summary = asyncio.run(Runner(store, branch.id).run(steps))
    return list(store.events(branch.id)), summary


def test_bounded_confidence_records_rounds_until_the_spread_is_within_tolerance(store: SqlStore):
    events, summary = _run(store, _spec({"bounded_confidence": {"tolerance": 0.05}}))
    rounds = [e.payload for e in events if e.payload.get("cause") == "bounded_confidence"]
    spreads = [r["spread"] for r in rounds]
    assert spreads[0] < 0.65 and spreads == sorted(spreads, reverse=True)  # they converge
    assert [r["converged"] for r in rounds] == [False] * (len(rounds) - 1) + [True]
    assert spreads[-1] <= 0.05 < spreads[-2]
    decided = rounds[-1]
    assert summary.outcomes["decided_round"] == decided["round"] == summary.completed_step
    assert summary.outcomes["decision"] == pytest.approx(decided["mean"], abs=1e-6)
    assert summary.outcomes["agreement"] == 1.0
    assert decided["stances"].keys() == {"a0", "a1", "a2", "a3"}


def test_bounded_confidence_moves_stances_exactly_as_the_opinion_kind(store: SqlStore):
    protocol, _ = _run(store, _spec("bounded_confidence"), 3)
    plain = _spec("opinion") | {"termination": {"max_steps": 3}}
    plain["outcomes"] = {"mean_stance": "mean_stance"}
    opinion, _ = _run(store, plain, 3)

    def decisions(events: list[Any]) -> list[Any]:
        return [
            (e.step, e.kind, e.agent_id, e.payload)
            for e in events
            if e.kind in ("message", "world") and e.agent_id is not None
        ]

    assert decisions(protocol) == decisions(opinion)


def test_a_mapping_of_kinds_acts_in_name_order_before_and_after_storing(store: SqlStore):
    spec = _spec({"vote": {"quorum": 2}, "opinion": None})
    spec["outcomes"] = {"decision": "decision"}
    scenario = validate_scenario(spec)
    stored = stored_scenario(json.loads(canonical_json(scenario.model_dump(mode="json"))))
    assert mechanics_of(scenario).name == mechanics_of(stored).name == "opinion+vote"
    assert options_of(stored, "vote") == {"quorum": 2}


@pytest.mark.parametrize(
    ("mechanics", "field", "reason"),
    [
        (["vote", "delphi"], "mechanics", "both define"),
        (["bounded_confidence", "opinion"], "mechanics", "both define"),
        ({"opinion": {"x": 1}}, "mechanics.opinion", "takes no options"),
        ({"bounded_confidence": {"tolerance": 3}}, "mechanics.bounded_confidence.tolerance", ""),
    ],
)
def test_combinations_and_options_are_checked(mechanics: Any, field: str, reason: str):
    spec = _spec(mechanics)
    with pytest.raises(ScenarioInvalid) as caught:
        validate_scenario(spec)
    fields = {p.field: p.reason for p in caught.value.problems}
    assert field in fields, fields
    assert reason in fields[field]
