"""Generated speech: grammatical for every common shape of topic and goal, varied, and
deterministic. Everything goes through ``RulesBrain.decide_now``, as the engine calls it."""

from __future__ import annotations

import itertools
import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aegntix.brains.base import Observation
from aegntix.brains.rules import RulesBrain
from aegntix.model.scenario import ActionSpec
from tests.brains.builders import make_agent, make_event, make_observation
from tests.brains.grammar import problems

brain = RulesBrain()

TOPICS = [
    "the flood-barrier plan",
    "a four-day week",
    "Flood-barrier plan.",
    "  the the new stadium  ",
    "raising taxes",
    "immigration",
    "plan",
    "whether Alex Marsh is guilty of arson",
    "Whether Alex Marsh is guilty of arson?",
    "Alex Marsh is guilty",
    "Alex Marsh lied",
    "should the town build the barrier?",
    "Should we ban cars downtown",
    "Is the barrier worth the cost?",
    "does the plan work?",
    "if we should raise taxes",
    "whether to close the school",
    "to raise taxes",
    "Build the barrier!",
    "that the mayor should resign",
    "Taxes should rise.",
    "how should we pay for it?",
    "",
]
GOALS = [
    "Get the plan approved",
    "get the plan approved.",
    "to get the plan approved",
    "Dana wants a low price",
    "I want a low price",
    "I need to sell the van this week",
    "We need the barrier",
    "a safe place for children to play",
    "no tax rise",
    "More green space!",
    "keeping costs down",
    "The town must be protected",
    "My goal is to win the vote",
    "make sure the park is safe",
]
STANCES = [-0.9, -0.4, 0.0, 0.4, 0.9]
PLAN = "the flood-barrier plan"
_FORBIDDEN = (
    "oppose whether",
    "support whether",
    "support that if",
    "oppose that if",
    "oppose should",
    "support should",
    "about should",
)


def _cast(topic: str, goal: str, stance: float, heard: str) -> Observation:
    dana = make_agent(
        "dana",
        name="Dana Whitfield",
        role="resident",
        goals=[goal],
        stance=stance,
        extraversion=1.0,
    )
    lee = make_agent("lee", name="Lee Park", role="engineer", stance=-stance or 0.5)
    visible = {
        "nothing": [],
        "a named speaker": [
            make_event(2, "Flooding will cost us millions.", agent="lee", stance=0.7)
        ],
        "the same side": [make_event(2, "I am worried.", agent="lee", stance=stance or 0.3)],
        "news": [make_event(2, "Breaking: a study finds the barrier is safe and saves homes.")],
    }[heard]
    return make_observation(dana, [lee], step=2, topic=topic, visible=visible)


def _lines(obs: Observation, seeds: range = range(12)) -> list[str]:
    lines = []
    for seed in seeds:
        decision = brain.decide_now(obs, random.Random(seed))
        if decision.action != "pass":
            lines.append(decision.content)
    return lines


@pytest.mark.parametrize("topic", TOPICS)
def test_opinions_are_grammatical_for_every_topic_shape(topic: str) -> None:
    cases = itertools.product(STANCES, ["nothing", "a named speaker", "the same side", "news"])
    for stance, heard in cases:
        for line in _lines(_cast(topic, "keep taxes low", stance, heard)):
            assert problems(line) == [], (topic, stance, heard, line)
            assert not any(bad in line.lower() for bad in _FORBIDDEN), line


@pytest.mark.parametrize("goal", GOALS)
def test_goals_are_said_in_the_speakers_voice(goal: str) -> None:
    said = []
    for heard in ("nothing", "a named speaker", "news"):
        for topic in ("the flood-barrier plan", "whether Alex Marsh is guilty of arson"):
            said += _lines(_cast(topic, goal, 0.4, heard), range(20))
        # an agent with no stance talks about its goal (open discussion)
        me = make_agent("dana", name="Dana Whitfield", role="resident", goals=[goal])
        me = me.model_copy(update={"persona": me.persona.model_copy(update={"extraversion": 1})})
        lee = make_agent("lee", name="Lee Park", role="engineer")
        visible = [] if heard == "nothing" else [make_event(2, "We should wait.", agent="lee")]
        said += _lines(make_observation(me, [lee], step=2, visible=visible), range(20))
    for line in said:
        assert problems(line) == [], (goal, line)
        # never the goal pasted in as written: no capital mid-sentence, no third person
        assert not re.search(r"[a-z,:] (Get|More|The town|My goal)\b", line), line
        assert "Dana wants" not in line and "Dana Whitfield wants" not in line, line
        assert "want keeping" not in line and line.count(":") <= 1, line
    spoken = " ".join(said).lower()
    core = {
        "Dana wants a low price": "i want a low price",
        "Get the plan approved": "get the plan approved",
        "to get the plan approved": "get the plan approved",
        "The town must be protected": "the town must be protected",
        "a safe place for children to play": "a safe place for children to play",
    }.get(goal)
    if core is not None:
        assert core in spoken, (goal, said[:5])


@pytest.mark.parametrize(
    ("topic", "stance", "expected"),
    [
        ("whether Alex Marsh is guilty of arson", -0.4, "Alex Marsh is guilty of arson"),
        ("should the town build the barrier?", 0.4, "the town should build the barrier"),
        ("Flood-barrier plan.", -0.9, "the flood-barrier plan"),
        ("if we should raise taxes", 0.0, "we should raise taxes"),
        ("to raise taxes", 0.9, "we should raise taxes"),
        ("Is the barrier worth the cost?", -0.9, "the barrier is worth the cost"),
    ],
)
def test_topics_are_rendered_as_phrases_or_clauses(
    topic: str, stance: float, expected: str
) -> None:
    lines = _lines(_cast(topic, "keep taxes low", stance, "nothing"), range(30))
    assert all(expected.lower() in line.lower() for line in lines), lines
    wording = {
        -0.4: ("doubt", "not convinced", "don't think"),
        0.0: ("not sure", "can't yet say", "weighing", "don't know"),
        0.4: ("believe", "think", "I'd say", "inclined"),
        0.9: ("certain", "convinced", "no doubt", "sure"),
        -0.9: ("oppose", "against", "mistake", "accept", "believe", "reject", "not true"),
    }[stance]
    assert all(any(w in line for w in wording) for line in lines), lines


def test_an_unanswerable_question_is_answered_yes_or_no() -> None:
    question = "Does the barrier, as designed, protect homes?"
    lines = _lines(_cast(question, "keep taxes low", 0.9, "nothing"))
    assert all(problems(line) == [] for line in lines), lines
    assert all(question in line and "yes" in line for line in lines), lines


def test_the_same_shape_is_not_repeated_after_the_agent_used_it() -> None:
    """Given its own last utterance in the window, an agent picks another sentence shape."""
    me = make_agent("ann", name="Ann", role="resident", stance=0.5, extraversion=1.0)
    lee = make_agent("lee", name="Lee", role="engineer", stance=0.4)
    first_obs = make_observation(me, [lee], step=1, topic="the flood-barrier plan")
    repeats = 0
    for seed in range(40):
        first = brain.decide_now(first_obs, random.Random(seed)).content
        mine = make_event(1, first, agent="ann", stance=0.5)
        then = make_observation(me, [lee], step=2, topic="the flood-barrier plan", visible=[mine])
        second = brain.decide_now(then, random.Random(seed)).content
        assert second != first
        repeats += _opening(second) == _opening(first)
    assert repeats <= 4  # the same first words at most now and then (a different stance verb)


def _opening(line: str) -> str:
    return " ".join(line.split()[:3])


def test_shapes_vary_per_speech_act() -> None:
    """Many distinct sentences per stance level, and per reply to a named speaker."""
    for stance in STANCES:
        alone = set(_lines(_cast(PLAN, "no tax rise", stance, "nothing"), range(60)))
        named = set(_lines(_cast(PLAN, "no tax rise", stance, "a named speaker"), range(60)))
        assert len({_opening(line) for line in alone}) >= 5, alone
        assert len({_opening(line) for line in named}) >= 5, named


def test_incident_and_negotiation_speech_stay_grammatical() -> None:
    commander = make_agent(
        "ines", name="Ines Ruiz", role="incident commander", actions=["isolate"],
        goals=["Contain the incident"], extraversion=1.0,
    )  # fmt: skip
    rosa = make_agent("rosa", name="Rosa Diaz", role="engineer")
    said = [make_event(2, "Rosa: the attacker is spreading laterally.", agent="rosa")]
    acts = {"isolate": ActionSpec(description="Cut infected hosts off the network.")}
    seller = make_agent(
        "sam", name="Sam Ortega", role="seller", goals=["Sam wants a good price"],
        negotiation={"side": "sell", "reservation": 800, "target": 1200},
    )  # fmt: skip
    buyer = make_agent(
        "dana", name="Dana", role="buyer",
        negotiation={"side": "buy", "reservation": 1100, "target": 700},
    )  # fmt: skip
    cases = [
        make_observation(commander, [rosa], step=2, visible=said, actions=acts),
        make_observation(commander, [rosa], step=2, visible=said[:0], actions=acts),
        make_observation(seller, [buyer], step=1),
        make_observation(
            seller, [buyer], step=4, states={"dana": {"offer": 900.0}}, own={"offer": 1150.0}
        ),
    ]
    for obs in cases:
        for line in _lines(obs, range(30)):
            assert problems(line) == [], line
            assert "Sam wants" not in line, line


def test_same_seed_same_words() -> None:
    for topic, heard in itertools.product(TOPICS[:8], ["nothing", "a named speaker", "news"]):
        obs = _cast(topic, "Dana wants a low price", 0.4, heard)
        assert _lines(obs) == _lines(obs)
    assert len(set(_lines(_cast(TOPICS[0], "no tax rise", 0.4, "news"), range(30)))) > 5


_words = st.sampled_from(
    ["the", "a", "whether", "if", "should", "is", "to", "Alex", "plan", "raise", "taxes", "?"]
)
# no braces (a brace means an unfilled field); no control, format or surrogate characters,
# which a scenario refuses at validation
_no_braces = st.characters(blacklist_characters="{}", blacklist_categories=("Cc", "Cf", "Cs"))
_phrases = st.one_of(st.text(_no_braces, max_size=120), st.lists(_words, max_size=9).map(" ".join))


@given(topic=_phrases, goal=_phrases, stance=st.floats(-1, 1), seed=st.integers(0, 2**32))
def test_any_topic_and_goal_give_a_finished_sentence(
    topic: str, goal: str, stance: float, seed: int
) -> None:
    """Whatever a scenario says, speech is one finished utterance (no exception, no unfilled
    field, a final stop)."""
    for heard in ("nothing", "a named speaker", "news"):
        decision = brain.decide_now(_cast(topic, goal, stance, heard), random.Random(seed))
        line = decision.content
        assert line.strip() and line[-1] in ".!?…" and "{" not in line, line
