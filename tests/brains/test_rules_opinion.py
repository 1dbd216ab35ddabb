"""Opinion dynamics: bounded confidence, injections, traits."""

from __future__ import annotations

import random
from typing import Any

from aegntix.brains.rules import RulesBrain
from aegntix.brains.rules.lexicon import valence
from aegntix.model.scenario import AgentSpec
from tests.brains.builders import MakeAgent, MakeEvent, MakeObs, make_agent, make_observation

brain = RulesBrain()


def resident(agent_id: str, stance: float, **persona: Any) -> AgentSpec:
    return make_agent(agent_id, role="resident", stance=stance, goals=["keep taxes low"], **persona)


def run(
    cast: list[AgentSpec], steps: int, seed: int = 0, decider: RulesBrain = brain
) -> dict[str, float]:
    """Everyone decides from the state at the start of the step (simultaneous update)."""
    stances = {a.id: a.stance for a in cast}
    for step in range(1, steps + 1):
        new = {}
        for agent in cast:
            others = [o for o in cast if o.id != agent.id]
            obs = make_observation(
                agent,
                others,
                step=step,
                own={"stance": stances[agent.id]},
                states={o.id: {"stance": stances[o.id]} for o in others},
            )
            decision = decider.decide_now(obs, random.Random(f"{seed}:{step}:{agent.id}"))
            assert decision.stance is not None
            new[agent.id] = decision.stance
        stances = new
    return {k: float(v) for k, v in stances.items() if v is not None}


def test_opinions_outside_the_confidence_bound_do_not_move_an_agent(
    observe: MakeObs, event: MakeEvent
) -> None:
    closed = resident("ann", 0.0, openness=0.0)  # ε = 0.1
    far = [resident("bo", 0.8), resident("cy", -0.9)]
    heard = [event(1, "The park is great.", agent="bo", stance=0.8)]
    decision = brain.decide_now(observe(closed, far, visible=heard), random.Random(0))
    assert decision.stance == 0.0


def test_opinions_within_the_bound_converge() -> None:
    cast = [
        resident(f"a{i}", s, openness=1.0, conscientiousness=0.0)
        for i, s in enumerate((-0.4, -0.1, 0.2, 0.5))
    ]
    final = run(cast, 25)
    assert max(final.values()) - min(final.values()) < 0.1 * 0.9


def test_distant_clusters_stay_apart() -> None:
    cast = [
        resident(f"a{i}", s, openness=0.1, conscientiousness=0.0)
        for i, s in enumerate((-0.8, -0.7, 0.7, 0.8))
    ]
    final = run(cast, 25)
    assert final["a0"] < -0.6 and final["a3"] > 0.6
    assert abs(final["a0"] - final["a1"]) < 0.1 and abs(final["a2"] - final["a3"]) < 0.1


def test_more_agreeable_agents_move_further(observe: MakeObs) -> None:
    moved = []
    for agreeableness in (0.1, 0.9):
        me = resident("ann", 0.0, openness=1.0, agreeableness=agreeableness, conscientiousness=0)
        decision = brain.decide_now(observe(me, [resident("bo", 0.4)]), random.Random(0))
        assert decision.stance is not None
        moved.append(decision.stance)
    assert 0 < moved[0] < moved[1] < 0.4


def test_conscientiousness_anchors_to_the_initial_stance(observe: MakeObs) -> None:
    drifted = {"stance": 0.5}
    loose = resident("ann", 0.0, conscientiousness=0.0, openness=0.0)
    anchored = resident("ann", 0.0, conscientiousness=1.0, openness=0.0)
    assert brain.decide_now(observe(loose, own=drifted), random.Random(0)).stance == 0.5
    back = brain.decide_now(observe(anchored, own=drifted), random.Random(0)).stance
    assert back is not None and 0.4 <= back < 0.5


def test_lexicon_reads_direction_and_negation() -> None:
    assert valence("The park will save jobs and improve safety") > 0
    assert valence("Experts warn the plan is risky and will add debt") < 0
    assert valence("The park plan is not safe") < 0
    assert valence("The plan cuts flooding risk") > 0
    assert valence("The council met on Tuesday") == 0


def test_broadcast_injection_moves_stance_by_its_valence(
    observe: MakeObs, event: MakeEvent
) -> None:
    me = resident("ann", 0.0, openness=0.0)
    good = [event(3, "Study: the park will save jobs and cut flooding risk.")]
    bad = [event(3, "Engineers warn the park is unsafe and a costly failure.")]
    up = brain.decide_now(observe(me, step=3, visible=good), random.Random(0)).stance
    down = brain.decide_now(observe(me, step=3, visible=bad), random.Random(0)).stance
    assert up is not None and down is not None
    assert up > 0 > down


def test_explicit_injection_stance_is_a_target(observe: MakeObs, event: MakeEvent) -> None:
    me = resident("ann", 0.8, openness=0.0, conscientiousness=0.0)
    toward = [event(2, "Neutral framing.", stance=-1.0)]
    stance = brain.decide_now(observe(me, step=2, visible=toward), random.Random(0)).stance
    assert stance is not None and stance < 0.8


def test_neuroticism_scales_the_reaction_to_news(observe: MakeObs, event: MakeEvent) -> None:
    news = [event(2, "The flood barrier failed; damage and debt ahead.")]
    moves = []
    for neuroticism in (0.0, 0.5, 1.0):
        me = resident("ann", 0.3, openness=0.0, neuroticism=neuroticism)
        stance = brain.decide_now(observe(me, step=2, visible=news), random.Random(0)).stance
        assert stance is not None
        moves.append(0.3 - stance)
    assert 0 < moves[0] < moves[1] < moves[2]


def test_an_injection_is_applied_only_in_its_own_step(observe: MakeObs, event: MakeEvent) -> None:
    me = resident("ann", 0.0, openness=0.0)
    old = [event(2, "The park will save jobs.")]
    assert brain.decide_now(observe(me, step=3, visible=old), random.Random(0)).stance == 0.0


def test_quiet_agent_passes_but_still_updates(observe: MakeObs, event: MakeEvent) -> None:
    quiet = resident("ann", 0.0, extraversion=0.0, openness=1.0)
    news = [
        event(1, "The park will improve safety.", to=["ann"]),
        event(1, "Ann, what do you think?", agent="bo", stance=0.5, to=["ann"]),
    ]
    for seed in range(50):
        decision = brain.decide_now(
            observe(quiet, [resident("bo", 0.5)], visible=news), random.Random(seed)
        )
        assert decision.action == "pass"
        assert decision.stance is not None and decision.stance > 0


def test_extraversion_sets_how_often_an_agent_speaks(agent: MakeAgent, observe: MakeObs) -> None:
    def spoken(extraversion: float) -> int:
        me = resident("ann", 0.2, extraversion=extraversion)
        obs = observe(me, [resident("bo", 0.1)])
        return sum(brain.decide_now(obs, random.Random(s)).action == "say" for s in range(300))

    assert spoken(0.0) == 0
    assert 0 < spoken(0.2) < spoken(0.8) < 300
    assert spoken(1.0) == 300


def test_a_speaker_states_its_stance(observe: MakeObs) -> None:
    me = resident("ann", 0.6, extraversion=1.0)
    decision = brain.decide_now(observe(me, [resident("bo", 0.5)]), random.Random(0))
    assert decision.action == "say"
    assert decision.fields["stance"] == decision.stance
    words_for = ("support", "behind", "all for", "vote for", "in favour", "back", "lean towards")
    assert any(w in decision.content for w in words_for), decision.content
    assert not any(w in decision.content for w in ("oppose", "against", "doubts"))


# -- temperature: chance in the stances ----------------------------------------------------
def town(neuroticism: float = 0.5) -> list[AgentSpec]:
    return [resident(f"r{i}", -0.4 + 0.1 * i, neuroticism=neuroticism) for i in range(9)]


def run_at(temperature: float, cast: list[AgentSpec], seed: int) -> dict[str, float]:
    return run(cast, 8, seed, RulesBrain(temperature))


def test_temperature_zero_draws_nothing_extra() -> None:
    # the same decisions, and the same number of draws from the rng, as before the knob
    cast = town()
    for seed in range(5):
        assert run_at(0.0, cast, seed) == run(cast, 8, seed)


def test_temperature_gives_seeded_chance() -> None:
    cast = town()
    assert run_at(1.0, cast, 3) == run_at(1.0, cast, 3)  # replays exactly
    finals = [sum(run_at(1.0, cast, seed).values()) / 9 for seed in range(30)]
    calm = [sum(run(cast, 8, seed).values()) / 9 for seed in range(30)]
    assert len(set(finals)) == 30  # every seed its own future
    spread = max(finals) - min(finals)
    assert spread > 5 * (max(calm) - min(calm) + 1e-9)


def test_neurotic_agents_waver_more() -> None:
    def spread(neuroticism: float) -> float:
        finals = [sum(run_at(0.5, town(neuroticism), seed).values()) / 9 for seed in range(40)]
        return max(finals) - min(finals)

    assert spread(0.9) > spread(0.1)
