"""Saying where one stands on the topic: several clauses per stance level for each kind of
topic (noun phrase, claim, unanswerable question), so "oppose" never meets "whether"."""

from __future__ import annotations

import random

from aegntix.brains.rules.topic import CLAIM, NOUN, Topic
from aegntix.brains.rules.variety import choose

#: Stance thresholds: |x| >= STRONG is a strong view, |x| >= FIRM a view, below it doubt.
STRONG = 0.6
FIRM = 0.2


def level(stance: float) -> int:
    """-2 (strongly against) .. 2 (strongly for)."""
    if stance >= STRONG:
        return 2
    if stance >= FIRM:
        return 1
    if stance > -FIRM:
        return 0
    return -1 if stance > -STRONG else -2


# {t}: the topic as a noun phrase or a claim; {q}: an unanswerable question, capitalised.
_NOUN: dict[int, tuple[str, ...]] = {
    2: (
        "I strongly support {t}",
        "I'm fully behind {t}",
        "I'm all for {t}",
        "{t} has my full support",
        "I'd vote for {t} today",
    ),
    1: (
        "I support {t}",
        "I'm in favour of {t}",
        "on balance, I back {t}",
        "I lean towards {t}",
        "I'm inclined to back {t}",
    ),
    0: (
        "I'm still undecided about {t}",
        "I haven't made up my mind about {t}",
        "I can see both sides of {t}",
        "I'm torn on {t}",
        "I'm not sure yet what to make of {t}",
    ),
    -1: (
        "I oppose {t}",
        "I have serious doubts about {t}",
        "I'm against {t} as it stands",
        "I can't support {t} yet",
        "I lean against {t}",
    ),
    -2: (
        "I strongly oppose {t}",
        "I'm firmly against {t}",
        "{t} would be a mistake",
        "I'll vote against {t}",
        "I can't accept {t} at all",
    ),
}
_CLAIM: dict[int, tuple[str, ...]] = {
    2: (
        "I'm certain that {t}",
        "I'm convinced that {t}",
        "I have no doubt that {t}",
        "I'm sure {t}",
    ),
    1: (
        "I believe {t}",
        "I think {t}",
        "on balance, I'd say {t}",
        "I'm inclined to think that {t}",
    ),
    0: (
        "I'm not sure whether {t}",
        "I can't yet say whether {t}",
        "I'm still weighing whether {t}",
        "I honestly don't know if {t}",
    ),
    -1: (
        "I doubt that {t}",
        "I'm not convinced that {t}",
        "I don't think {t}",
        "I have my doubts that {t}",
    ),
    -2: (
        "I don't believe for a moment that {t}",
        "I flatly reject the idea that {t}",
        "I'm certain it's not true that {t}",
        "there's no way I accept that {t}",
    ),
}
_QUESTION: dict[int, tuple[str, ...]] = {
    2: ("my answer to “{q}?” is a firm yes", "on “{q}?”, I say yes without hesitation"),
    1: ("my answer to “{q}?” is yes, on balance", "on “{q}?”, I lean towards yes"),
    0: ("I can't yet answer “{q}?”", "on “{q}?”, I'm still undecided"),
    -1: ("my answer to “{q}?” is no, on balance", "on “{q}?”, I lean towards no"),
    -2: ("my answer to “{q}?” is a firm no", "on “{q}?”, I say no without hesitation"),
}
#: How someone else's stance is reported, whatever the kind of topic.
_REPORTED: dict[int, tuple[str, ...]] = {
    2: ("is firmly for it", "strongly supports it"),
    1: ("is in favour", "leans towards it"),
    0: ("is undecided", "hasn't made up their mind"),
    -1: ("is against it", "has doubts about it"),
    -2: ("is firmly against it", "strongly opposes it"),
}


def stance_clause(topic: Topic, stance: float, rng: random.Random, recent: str = "") -> str:
    """Where the agent stands, as a clause starting in lower case where it may ("I …",
    "the plan has my full support"): two rng draws."""
    lvl = level(stance)
    if topic.kind == NOUN:
        template = choose(rng, _NOUN[lvl], recent)
        # once the agent has spoken, it may call the topic by its short name ("the plan")
        text = topic.short if rng.random() < 0.6 and recent else topic.text
        return template.format(t=text)
    if topic.kind == CLAIM:
        template = choose(rng, _CLAIM[lvl], recent)
        rng.random()
        return template.format(t=topic.text)
    template = choose(rng, _QUESTION[lvl], recent)
    rng.random()
    return template.format(q=topic.text)


def reported(stance: float, second: bool = False) -> str:
    """Someone else's stance in the third person ("is in favour"; ``second``: the other
    wording, "leans towards it")."""
    return _REPORTED[level(stance)][1 if second else 0]
