"""Persona drift: consistency with the core, adaptation bounded by the rate, refused below
the stability threshold — and the refusal is recorded in the timeline."""

from __future__ import annotations

import pytest

from aegntix.engine import start_scenario
from aegntix.memory.persona import Experience, adapt, consistency, signals
from aegntix.memory.records import memory_events
from aegntix.model.scenario import BIG_FIVE, Persona
from aegntix.timeline import SqlStore
from aegntix.timeline.state import state_at
from tests.engine.helpers import run
from tests.memory.support import with_memory

HOSTILE = Experience(conflict=1.0, warmth=-1.0, agreement=-1.0, moved=0.0, urgency=1.0)


def test_consistency_is_one_minus_the_mean_absolute_drift():
    core = dict.fromkeys(BIG_FIVE, 0.5)
    assert consistency(core, core) == 1.0
    drifted = {**core, "agreeableness": 0.0, "neuroticism": 1.0}  # |0.5| + |0.5| over 5
    assert consistency(drifted, core) == pytest.approx(1 - 1.0 / 5)


def test_each_adaptive_trait_moves_by_at_most_the_rate_and_others_not_at_all():
    persona = Persona(adaptation_rate=0.1, adaptive=["agreeableness", "neuroticism"])
    current = persona.big_five()
    adapted, record = adapt(persona, current, HOSTILE)
    assert adapted is not None and record["applied"] is True
    push = signals(HOSTILE)
    assert adapted["agreeableness"] == pytest.approx(0.5 + 0.1 * push["agreeableness"])
    assert adapted["neuroticism"] == pytest.approx(0.5 + 0.1 * push["neuroticism"])
    assert adapted["agreeableness"] < 0.5 < adapted["neuroticism"]
    for trait in ("openness", "conscientiousness", "extraversion"):
        assert adapted[trait] == current[trait]
    assert all(abs(adapted[t] - current[t]) <= 0.1 + 1e-9 for t in BIG_FIVE)


@pytest.mark.parametrize("threshold", [0.96, 0.96 + 1e-6])
def test_an_adaptation_below_the_stability_threshold_is_refused(threshold: float):
    """Hostility pushes agreeableness down by 0.1 and neuroticism up by 0.1: consistency
    1 - 0.2/5 = 0.96. At a threshold of 0.96 that is allowed; just above it, refused."""
    persona = Persona(
        adaptation_rate=0.1,
        stability_threshold=threshold,
        adaptive=["agreeableness", "neuroticism"],
    )
    push = signals(HOSTILE)
    assert push["agreeableness"] == -1.0 and push["neuroticism"] == 1.0
    adapted, record = adapt(persona, persona.big_five(), HOSTILE)
    assert record["consistency"] == pytest.approx(0.96)
    assert record["applied"] is (threshold <= 0.96)
    assert (adapted is None) is (threshold > 0.96)
    assert record["to"]["agreeableness"] == pytest.approx(0.4)


def test_refusals_are_recorded_and_leave_the_persona_as_it_was(store: SqlStore):
    scenario = with_memory("town-hall", reflect_threshold=10)
    data = scenario.model_dump(mode="json")
    for agent in data["agents"]:
        agent["persona"]["stability_threshold"] = 1.0  # no drift at all may pass
    from aegntix.model.loading import validate_scenario

    branch = start_scenario(store, validate_scenario(data))
    run(store, branch.id, 5)
    attempts = [
        e.payload["adaptation"]
        for e in memory_events(store.events(branch.id))
        if "adaptation" in e.payload
    ]
    assert attempts and all(a["applied"] is False and a["consistency"] < 1.0 for a in attempts)
    assert all("traits" not in own for own in state_at(store, branch.id)["agents"].values())


def test_accepted_drift_is_state_and_shapes_what_the_agent_sees_of_itself(store: SqlStore):
    branch = start_scenario(store, with_memory("town-hall", reflect_threshold=10))
    run(store, branch.id, 5)
    agents = state_at(store, branch.id)["agents"]
    drifted = {a: own["traits"] for a, own in agents.items() if "traits" in own}
    assert drifted
    from aegntix.engine.observation import Window, observe

    scenario = with_memory("town-hall")
    for agent_id, traits in drifted.items():
        state = state_at(store, branch.id)
        view = observe(scenario, state, agent_id, 6, Window(1))
        assert view.agent.persona.big_five() == traits
        assert view.agent.persona.big_five() != scenario.agent(agent_id).persona.big_five()
