"""Prompts from observations, and replies validated into decisions."""

from __future__ import annotations

import pytest

from aegntix.brains.prompting import (
    DECISION_SCHEMA,
    InvalidReply,
    messages,
    parse_decision,
    system_prompt,
    user_prompt,
)
from aegntix.model.scenario import ActionSpec
from tests.brains.builders import make_agent, make_event, make_observation

SELLER = make_agent(
    "sam",
    name="Sam",
    role="seller",
    goals=["sell high"],
    agreeableness=0.1,
    extraversion=0.9,
    neuroticism=0.2,
    negotiation={"side": "sell", "reservation": 13500, "target": 18000},
)
BUYER = make_agent(
    "dana", name="Dana Whitfield", role="buyer",
    negotiation={"side": "buy", "reservation": 16500, "target": 11000},
)  # fmt: skip


def _obs(**kw):
    return make_observation(SELLER, [BUYER], **kw)


def test_the_system_prompt_renders_persona_as_behaviour_role_goals_and_terms():
    text = system_prompt("Van sale", "a van", SELLER.model_copy(update={"backstory": "Lot owner."}))
    assert 'You are Sam, the seller, in the scenario "Van sale"' in text
    assert "- sell high" in text and "Your background: Lot owner." in text
    assert "drive a hard bargain" in text  # agreeableness 0.1
    assert "outgoing and talkative" in text  # extraversion 0.9
    assert "calm and steady" in text  # neuroticism 0.2
    assert "walk-away price is 13500" in text
    assert '"required":["action"]' in text


def test_the_user_prompt_shows_state_others_events_memory_and_actions():
    obs = _obs(
        step=4,
        own={"offer": 17900.0},
        states={"dana": {"offer": 14200.5}},
        world={"deal_reached": False, "_actions_taken": {}},
        visible=[
            make_event(3, "Too high.", agent="dana", offer=14200.5),
            make_event(3, "Deadline Friday."),
        ],
        actions={"walk_out": ActionSpec(description="leave the table")},
    )
    obs = type(obs)(**{**{f: getattr(obs, f) for f in obs.__slots__}, "memory": ("a memory",)})
    text = user_prompt(obs)
    assert text.startswith("Step 4 of 20.")
    assert "Facts: deal_reached = false" in text and "_actions_taken" not in text
    assert "mean_stance" not in text  # built-ins are not facts
    assert "You (sam): offer 17900" in text
    assert "- Dana Whitfield, buyer (id dana): offer 14200.5" in text
    assert '- step 3, Dana Whitfield (buyer) said: "Too high." [offer 14200.5]' in text
    assert '- step 3, news: "Deadline Friday."' in text
    assert "- a memory" in text and "- walk_out: leave the table" in text


def test_prompts_are_deterministic():
    assert messages(_obs(step=2)) == messages(_obs(step=2))
    assert messages(_obs(step=2)) != messages(_obs(step=3))


def test_the_schema_is_the_decision_model_without_meta():
    assert "meta" not in DECISION_SCHEMA["properties"]
    assert DECISION_SCHEMA["properties"]["action"]["enum"] == ["say", "act", "pass"]


@pytest.mark.parametrize(
    "text",
    [
        '{"action": "say", "content": "Hi"}',
        '```json\n{"action": "say", "content": "Hi"}\n```',
        'Here you go: {"action": "say", "content": "Hi", "reasoning": "..."} Thanks!',
        '{"action": "say", "content": "Hi", "meta": {"cost": 0}}',
    ],
)
def test_replies_are_parsed_leniently_but_validated(text: str):
    decision = parse_decision(text, _obs())
    assert decision.action == "say" and decision.content == "Hi" and decision.meta is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("I accept.", "no JSON object found"),
        ('{"action": "say", "content": "x"', "not valid JSON"),  # truncated
        ('{"action": "say", "content": x}', "not valid JSON"),
        ('{"action": "shout"}', "action: Input should be"),
        ('{"action": "say", "stance": 3}', "stance: Input should be less than or equal to 1"),
        ('{"action": "act", "act": "fly"}', "act must be one of your actions now"),
        ('{"action": "say", "content": "  "}', "say needs some content"),
        ('{"action": "say", "content": "x", "offer": NaN}', "numbers must be finite"),
    ],
)
def test_invalid_replies_say_why(text: str, problem: str):
    with pytest.raises(InvalidReply, match=problem):
        parse_decision(text, _obs())


def test_addressees_may_be_names_and_accepts_snap_to_the_standing_offer():
    obs = _obs(states={"dana": {"offer": 15234.57}})
    d = parse_decision(
        '{"action": "say", "content": "Deal.", "to": ["Dana Whitfield", "nobody"],'
        ' "accept": true, "offer": 15235}',
        obs,
    )
    assert d.to == ["dana"] and d.offer == 15234.57
    far = parse_decision(
        '{"action": "say", "content": "Deal?", "accept": true, "offer": 9000}', obs
    )
    assert far.offer == 9000  # not near a standing offer: the mechanics will reject it
