"""An agent's goal in its own voice. A goal may be written as

- an imperative ("Get the plan approved", "keep parking for customers") or an infinitive
  ("to get the plan approved"): a verb phrase — "I want to get the plan approved";
- a noun phrase ("a safe place for children to play", "no tax rise"): "I want a safe place
  for children to play", "I'm here to see …";
- a sentence about the agent ("Dana wants a low price" for Dana, "I need a van"): turned
  into the first person — "I want a low price";
- a sentence about something else ("the town must be protected"): "my point is that the
  town must be protected".

The goal is read once per (text, agent name) and cached.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from aegntix.brains.rules.variety import choose
from aegntix.brains.rules.wording import (
    AUXILIARIES,
    DETERMINERS,
    NOUN_ADJECTIVES,
    PRONOUNS,
    TITLES,
    VERBS,
    lower_first,
    third_to_first,
    undoubled,
)

GOAL_CHARS = 160
VERB = "verb"
NOUN = "noun"
GERUND = "gerund"  # "keeping costs down": a noun phrase "I want" cannot take
SELF = "self"  # a first-person sentence
OTHER = "other"  # a sentence about something else
_STRIP = " \t\n.!;:,\"'“”"
_ADVERB = r"(?:(?:really|just|still|also|badly|only) )?"
_WANTING = re.compile(
    r"^(?:I|we) " + _ADVERB + r"(?:want|need|hope|would like|'d like|intend|plan|aim|mean|"
    r"have|must|should|will) (?:to )?(.+)$",
    re.IGNORECASE,
)
_WANT_THING = re.compile(r"^(?:I|we) " + _ADVERB + r"(?:want|need) (.+)$", re.IGNORECASE)
_MY_AIM = re.compile(
    r"^(?:my|our) (?:goal|aim|priority|job|mission|plan|purpose|focus) (?:is|are) (to )?(.+)$",
    re.IGNORECASE,
)
_DEFAULT = "get this right"
_ADVERBS = frozenset({"always", "never", "really", "just", "still", "also", "only", "badly"})
_STOPS = frozenset({"to", "for", "of", "with", "that", "which", "who"})


@dataclass(frozen=True, slots=True)
class Goal:
    """``kind``: verb / noun / gerund / self / other; ``text``: the verb phrase, noun
    phrase or sentence; ``aim``: a verb phrase that follows "to"."""

    kind: str
    text: str
    aim: str


def _shorten(text: str) -> str:
    if len(text) > GOAL_CHARS:
        text = text[:GOAL_CHARS].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return text


def _first_person(words: list[str], subject_len: int) -> str:
    """The sentence with its subject replaced by "I" and the verb agreeing ("Dana really
    wants" -> "I really want")."""
    rest = list(words[subject_len:])
    at = 1 if len(rest) > 1 and rest[0].lower() in _ADVERBS else 0
    if at < len(rest):
        rest[at] = third_to_first(rest[at])
    return " ".join(["I", *rest])


def _names(agent_name: str) -> tuple[str, ...]:
    """The ways a goal may name its own agent: full name, first name, without a title."""
    words = agent_name.split()
    if not words:
        return ()
    plain = [w for w in words if w.lower().rstrip(".") not in TITLES] or words
    forms = {" ".join(words), " ".join(plain), plain[0]}
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


def _sentence(words: list[str], agent_name: str) -> Goal | None:
    """A goal that is a full sentence, or None."""
    text = " ".join(words)
    my_aim = _MY_AIM.match(text)
    if my_aim:
        said = lower_first(text)
        if my_aim.group(1):
            return Goal(SELF, said, my_aim.group(2))
        return Goal(SELF, said, f"get {my_aim.group(2)}")
    first = words[0].lower()
    for name in _names(agent_name):
        count = len(name.split())
        if " ".join(words[:count]) == name and len(words) > count:
            return _self(_first_person(words, count))
    if first == "i" and len(words) > 1:
        return _self(" ".join(["I", *words[1:]]))
    if first in VERBS:
        return None  # an imperative, whatever follows ("make sure the park is safe")
    if first == "we" and len(words) > 1:
        return _self(lower_first(text))
    name_like = words[0][:1].isupper() and first not in VERBS | DETERMINERS | NOUN_ADJECTIVES
    for i, word in enumerate(words[1:6], start=1):
        lowered = word.lower()
        third_person = i == 1 and lowered.endswith("s") and (name_like or first in PRONOUNS)
        if lowered in AUXILIARIES or third_person:
            common = first in DETERMINERS | PRONOUNS or first.endswith("ing")
            said = lower_first(text) if common else text
            return Goal(OTHER, said, f"make the case that {said}")
        if lowered in _STOPS:
            break
    return None


def _self(sentence: str) -> Goal:
    """A first-person goal; its aim is what follows "want to", "need", "must"."""
    wanting = _WANTING.match(sentence)
    if wanting and wanting.group(1).split()[0].lower() in VERBS:
        return Goal(SELF, sentence, wanting.group(1))
    thing = _WANT_THING.match(sentence)
    if thing:
        return Goal(SELF, sentence, f"get {thing.group(1)}")
    return Goal(SELF, sentence, f"make the case that {sentence}")


@lru_cache(maxsize=4096)
def read_goal(raw: str, agent_name: str = "") -> Goal:
    """Classify the goal ``raw`` of the agent called ``agent_name``."""
    text = _shorten(" ".join(undoubled(raw.split())).strip(_STRIP))
    if not text:
        return Goal(VERB, _DEFAULT, _DEFAULT)
    words = text.split()
    first = words[0].lower()
    if first == "to" and len(words) > 1:
        phrase = " ".join(words[1:])
        return Goal(VERB, phrase, phrase)
    sentence = _sentence(words, agent_name)
    if sentence is not None:
        return sentence
    if first in DETERMINERS or first in NOUN_ADJECTIVES or first.endswith("ing"):
        phrase = lower_first(text)
        if first.endswith("ing"):
            return Goal(GERUND, phrase, f"focus on {phrase}")
        return Goal(NOUN, phrase, f"see {phrase}")
    is_verb = first in VERBS or (
        len(words) > 1 and words[1].lower() in DETERMINERS | PRONOUNS | {"it", "them"}
    )
    if is_verb:
        phrase = lower_first(text)
        return Goal(VERB, phrase, phrase)
    phrase = lower_first(text) if not words[0][1:2].isupper() else text
    return Goal(NOUN, phrase, f"see {phrase}")


def goal_of(name: str, goals: Sequence[str]) -> Goal:
    return read_goal(goals[0], name) if goals else Goal(VERB, _DEFAULT, _DEFAULT)


# First-person statements of the goal, by its kind ({g}: the goal's text).
_STATEMENTS: dict[str, tuple[str, ...]] = {
    VERB: (
        "I want to {g}",
        "my aim is to {g}",
        "I'm here to {g}",
        "what I need is to {g}",
        "my priority is to {g}",
    ),
    NOUN: (
        "I want {g}",
        "what I'm after is {g}",
        "I'm here for {g}",
        "my priority is {g}",
        "I care about {g}",
    ),
    GERUND: (
        "I care about {g}",
        "my priority is {g}",
        "what matters to me is {g}",
        "I'm focused on {g}",
    ),
    SELF: ("{g}", "frankly, {g}", "to be plain, {g}"),
    OTHER: (
        "my point is that {g}",
        "what matters to me is that {g}",
        "what I keep coming back to is that {g}",
    ),
}


def statement(goal: Goal, rng: random.Random, recent: str = "") -> str:
    """The goal as a first-person clause ("my aim is to keep taxes low"); one rng draw."""
    return choose(rng, _STATEMENTS[goal.kind], recent).format(g=goal.text)
