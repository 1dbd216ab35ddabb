"""Tabletop action selection: objective gains, softmax, playbook, injections."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from aegntix.brains.base import Observation, VisibleEvent
from aegntix.brains.rules import RulesBrain
from aegntix.brains.rules.incident import gains
from aegntix.model.scenario import ActionSpec
from tests.brains.builders import MakeEvent, make_agent, make_observation

brain = RulesBrain()
WORLD = {"severity": 0.8, "containment": 0.2, "customer_impact": 0.5, "comms": 0}
ACTIONS = {
    "isolate_hosts": ActionSpec(
        description="Isolate the infected hosts from the network",
        effects={
            "containment": "min(1, containment + 0.4)",
            "customer_impact": "customer_impact + 0.05",
        },
        keywords=["quarantine", "contain"],
    ),
    "notify_customers": ActionSpec(
        description="Notify affected customers",
        effects={"customer_impact": "customer_impact - 0.1", "comms": "comms + 1"},
        keywords=["disclose", "customers", "press"],
    ),
    "restore_backups": ActionSpec(
        effects={"severity": "severity - 0.1"}, keywords=["restore", "ransomware"]
    ),
}
OBJECTIVE = "-(severity * (1 - containment)) - customer_impact"


def responder(objective: str | None = OBJECTIVE, **persona: Any) -> Observation:
    return observation(objective, (), **persona)


def observation(
    objective: str | None, visible: tuple[VisibleEvent, ...] | list[VisibleEvent], **persona: Any
) -> Observation:
    me = make_agent(
        "ines",
        name="Ines",
        role="incident commander",
        actions=list(ACTIONS),
        objective=objective,
        goals=["contain the breach"],
        **persona,
    )
    return make_observation(
        me,
        [make_agent("lee", name="Lee", role="legal counsel")],
        step=4,
        world=WORLD,
        actions=ACTIONS,
        visible=visible,
    )


def choices(obs: Observation, n: int = 400) -> Counter[str | None]:
    return Counter(brain.decide_now(obs, random.Random(s)).act for s in range(n))


def test_gains_follow_the_objective() -> None:
    scored = gains(responder())
    assert scored is not None
    assert scored["isolate_hosts"] == 1.0  # the best move scales to 1
    assert scored["isolate_hosts"] > scored["notify_customers"] > scored["restore_backups"] > 0


def test_the_best_action_is_chosen_most_often() -> None:
    counts = choices(responder())
    assert counts.most_common(1)[0][0] == "isolate_hosts"
    assert counts["isolate_hosts"] > 0.5 * sum(counts.values())


def test_decision_is_a_valid_act() -> None:
    decision = brain.decide_now(responder(), random.Random(0))
    assert decision.action == "act" and decision.act in ACTIONS and decision.content


def test_neurotic_agents_are_more_erratic() -> None:
    calm = choices(responder(neuroticism=0.0))["isolate_hosts"]
    anxious = choices(responder(neuroticism=1.0))["isolate_hosts"]
    assert calm > anxious


def test_keyword_injection_changes_the_choice(event: MakeEvent) -> None:
    legal = [event(4, "Regulators: you must disclose the breach to customers today.")]
    counts = choices(observation(OBJECTIVE, legal))
    assert counts.most_common(1)[0][0] == "notify_customers"


def test_an_old_injection_weighs_less(event: MakeEvent) -> None:
    now = choices(observation(OBJECTIVE, [event(4, "Restore from backup: it's ransomware.")]))
    then = choices(observation(OBJECTIVE, [event(2, "Restore from backup: it's ransomware.")]))
    assert now["restore_backups"] > then["restore_backups"]


def test_a_colleague_message_nudges_less_than_an_injection(event: MakeEvent) -> None:
    text = "We should restore from backup, it's ransomware."
    said = choices(observation(OBJECTIVE, [event(4, text, agent="lee")]))["restore_backups"]
    injected = choices(observation(OBJECTIVE, [event(4, text)]))["restore_backups"]
    baseline = choices(responder())["restore_backups"]
    assert baseline < said < injected


def test_without_objective_salience_decides(event: MakeEvent) -> None:
    counts = choices(observation(None, [event(4, "Quarantine everything now!")]))
    assert counts.most_common(1)[0][0] == "isolate_hosts"


def test_conscientious_agents_follow_the_playbook(event: MakeEvent) -> None:
    done = [event(3, "Hosts isolated.", agent="lee", kind="action", action="isolate_hosts")]
    careful = choices(observation(None, done, conscientiousness=1.0, neuroticism=0.2))
    assert careful["isolate_hosts"] < careful["notify_customers"]
    assert careful["isolate_hosts"] < careful["restore_backups"]


def test_when_nothing_helps_extraverts_talk_and_introverts_wait() -> None:
    harmful = "-(containment + comms)"  # every action raises one of them or changes nothing
    for seed in range(30):
        talker = brain.decide_now(
            responder(harmful, extraversion=1.0, conscientiousness=0.0), random.Random(seed)
        )
        loner = brain.decide_now(
            responder(harmful, extraversion=0.0, conscientiousness=0.0), random.Random(seed)
        )
        assert talker.action == "say" and talker.content
        assert loner.action == "pass"


def test_an_action_whose_effects_fail_is_never_chosen() -> None:
    broken = {
        **ACTIONS,
        "divide": ActionSpec(
            effects={"severity": "severity / (comms - comms)"}, keywords=["divide"]
        ),
    }
    me = make_agent("ines", role="commander", actions=list(broken), objective=OBJECTIVE)
    obs = make_observation(me, step=1, world=WORLD, actions=broken)
    assert "divide" not in choices(obs, 200)


def test_an_objective_with_unknown_names_falls_back_to_salience() -> None:
    counts = choices(responder("no_such_metric * 2"), 100)
    assert set(counts) <= set(ACTIONS)


def test_incident_agents_with_a_stance_update_it(event: MakeEvent) -> None:
    me = make_agent(
        "ines",
        role="commander",
        actions=list(ACTIONS),
        objective=OBJECTIVE,
        stance=0.0,
        openness=0.0,
    )
    news = [event(2, "Leaks show the cover-up was a disaster and a scandal.")]
    obs = make_observation(me, step=2, world=WORLD, actions=ACTIONS, visible=news)
    decision = brain.decide_now(obs, random.Random(0))
    assert decision.action == "act" and decision.stance is not None and decision.stance < 0
