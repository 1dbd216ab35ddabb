"""Generated sentences: several templates per intent, picked with the decision's rng and
steered away from the shapes the agent used in its last few utterances, that reflect the
agent's role, goal, stance or offer and the last thing said to it.

Speech is always the last thing a decision draws from the rng, so changing templates never
changes an offer, a stance or a choice of action.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

from aegntix.brains.base import Observation
from aegntix.brains.rules.goals import goal_of, statement
from aegntix.brains.rules.lexicon import valence
from aegntix.brains.rules.phrasing import (
    describe,
    first_name,
    gist,
    price,
    reference,
    role_in,
)
from aegntix.brains.rules.signals import INJECTION, Heard, last_heard, number
from aegntix.brains.rules.stances import FIRM, stance_clause
from aegntix.brains.rules.topic import read_topic
from aegntix.brains.rules.variety import choose, recent_own
from aegntix.brains.rules.wording import capital, tidy
from aegntix.model.scenario import ActionSpec


def _say(
    rng: random.Random, templates: tuple[str, ...], recent: str, values: Mapping[str, str]
) -> str:
    return tidy(choose(rng, templates, recent).format_map(values))


class _Lazy(dict[str, str]):
    """Template values computed only if the chosen template names them (citing what was
    heard costs more than the rest of a sentence)."""

    def __init__(self, lazy: Mapping[str, Callable[[], str]], **eager: str) -> None:
        super().__init__(eager)
        self.lazy = dict(lazy)

    def __missing__(self, key: str) -> str:
        value = self.lazy[key]()
        self[key] = value
        return value


def _with_role(observation: Observation, usual: str = "the", **values: str) -> _Lazy:
    """Template values with the agent's role worked out only if a template names it."""
    return _Lazy({"role": lambda: role_in(observation, usual)}, **values)


# --- negotiation ---------------------------------------------------------------------------

_OPEN = (
    "As {role}, I'm opening at {offer}.",
    "Let's start the conversation at {offer}; {goal}.",
    "Speaking as {role}: {offer} is a fair place to begin.",
    "As {role}, I'll put {offer} on the table to start.",
    "Let me open at {offer}: {goal}.",
)
_COUNTER = (
    "As {role}, I can {move} {offer} — {name}, {theirs} {fails}.",
    "{name}, {theirs} {fails}. My offer is {offer}.",
    "I hear you, {name}, but {theirs} {fails}; I'll {move} {offer}.",
    "Speaking as {role}: {offer}. {name}, {theirs} {fails}.",
    "{name}, {theirs} {fails}, but I'll meet you part of the way: {offer}.",
    "I can {move} {offer}, {name}; {theirs} {fails}.",
)
_HOLD = (
    "{name}, I'm staying at {offer}: {theirs} {fails}.",
    "I'm holding at {offer}, {name}; {theirs} {fails}.",
    "As {role}, I can't move from {offer} yet — {name}, {theirs} {fails}.",
)
_ACCEPT = (
    "Deal — {name}, {offer} works for me.",
    "{name}, I accept {offer}.",
    "Agreed at {offer}. Thank you, {name}.",
    "{offer} it is, {name}. We have a deal.",
)
_MEDIATE = (
    "{buyer} is at {bid} and {seller} at {ask}: I propose we meet at {offer}.",
    "Let's split the difference at {offer}. {seller}, {buyer}, can you both live with that?",
    "As {role}, I suggest {offer}; the gap between you is {gap}.",
    "{seller}, {buyer}: {offer} sits right between your numbers. Shall we settle there?",
)
_MEDIATE_WAIT = (
    "As {role}, I'd like to hear both opening numbers first.",
    "Let's get both offers on the table, then find the middle.",
    "Before I suggest anything, I'd like to hear where each of you stands.",
)
_CLOSING = (
    "Glad we reached a deal at {price}.",
    "That settles it at {price}. Good doing business.",
    "Deal done at {price}; let's write it up.",
)
#: Openings that read on after "Given …, " in lower case; names and "I" stay as they are.
_LOWERABLE = frozenset({"As", "Let's", "Let", "Speaking"})


def counter_offer(
    observation: Observation,
    rng: random.Random,
    offer: float,
    counterpart: tuple[str, float] | None,
) -> str:
    agent = observation.agent
    recent = recent_own(observation)
    selling = agent.negotiation is not None and agent.negotiation.side == "sell"
    values = _with_role(observation, offer=price(offer))
    if counterpart is None:
        values["goal"] = statement(goal_of(agent.name, agent.goals), rng, recent)
        line = _say(rng, _OPEN, recent, values)
    else:
        name, theirs = counterpart
        fails = "doesn't cover our costs" if selling else "is more than I can justify"
        if rng.random() < 0.5:
            fails = "is too low for us" if selling else "is too high for us"
        move = "come down to" if selling else "go up to"
        before = number(observation.own.get("offer"))
        holding = before is not None and abs(before - offer) < 0.005
        values.update(move=move, name=name, theirs=price(theirs), fails=fails)
        line = _say(rng, _HOLD if holding else _COUNTER, recent, values)
    heard = last_heard(observation)
    if heard is not None and heard.kind == INJECTION and heard.step == observation.step:
        first, _, rest = line.partition(" ")
        if first in _LOWERABLE:  # "As the seller…" → "…, as the seller…"
            line = f"{first.lower()} {rest}"
        line = f"Given {reference(observation, heard)}, {line}"
    return line


def accept(observation: Observation, rng: random.Random, offer: float, name: str) -> str:
    return _say(rng, _ACCEPT, recent_own(observation), {"name": name, "offer": price(offer)})


def mediate(
    observation: Observation,
    rng: random.Random,
    proposal: float | None,
    bid: tuple[str, float] | None = None,
    ask: tuple[str, float] | None = None,
) -> str:
    recent = recent_own(observation)
    if proposal is None or bid is None or ask is None:
        return _say(rng, _MEDIATE_WAIT, recent, _with_role(observation))
    values = _with_role(
        observation,
        offer=price(proposal),
        buyer=bid[0],
        bid=price(bid[1]),
        seller=ask[0],
        ask=price(ask[1]),
        gap=price(abs(ask[1] - bid[1])),
    )
    return _say(rng, _MEDIATE, recent, values)


def closing(observation: Observation, rng: random.Random) -> str:
    agreed = number(observation.world.get("price"))
    recent = recent_own(observation)
    said = price(agreed) if agreed is not None else "the agreed price"
    return _say(rng, _CLOSING, recent, {"price": said})


# --- opinion -------------------------------------------------------------------------------

#: {stance}: where the agent stands; {ref}: what it heard; {reply}: its answer to that.
_OPINION_HEARD = (
    "Speaking as {role}, {stance}; {ref}, {reaction}.",
    "{stance}. {ref_cap} — {reaction}.",
    "After {hearing}, {stance}. {goal}.",
    "{reply}. {stance}.",
    "Here's where I stand after {hearing}: {stance}.",
)
#: Shapes for when the agent keeps its view against what it heard.
_OPINION_AGAINST = ("{goal}, so whatever {ref_short}, {stance}.",)
_OPINION_NAMED = (
    "{name}, {reply_low}. {stance}.",
    "To answer {name}: {stance}, because {goal}.",
    "{name}, {reply_low} — {stance}.",
)
_OPINION_ALONE = (
    "Speaking as {role}, {stance}.",
    "As {role}, {stance} — {goal}.",
    "Let me be clear: {stance}.",
    "{goal}. With that in mind, {stance}.",
    "{stance}. {goal}.",
    "Here's where I stand: {stance}.",
    "For what it's worth, {stance}.",
)
#: Speech acts toward a named speaker, by how the agent relates to what they said.
_AGREE = (
    "I see it the same way",
    "you're right about that",
    "I'm with you on this",
    "that matches what I see",
)
_DISAGREE = (
    "I hear you, but I see it differently",
    "I can't go along with that",
    "with respect, I disagree",
    "that doesn't persuade me",
)
_CONCEDE = (
    "you've moved me a little",
    "I'll admit you have a point",
    "you've given me something to think about",
)
_HOLD_FIRM = (
    "I've listened, but I'm holding my ground",
    "I haven't changed my mind",
    "nothing I've heard changes my view",
)
_UNSURE = (
    "that weighs on me",
    "I take that seriously",
    "that gives me pause",
    "I'm listening",
)
#: How the agent reacts after citing what it heard ("…; Lee says "…", and I agree").
_REACT = {
    "agree": ("and I agree", "and that matches what I see", "and I'm with them on that"),
    "disagree": ("but I'm not convinced", "but I see it differently", "but I disagree"),
    "unsure": ("and that weighs on me", "which I take seriously", "and that gives me pause"),
}


def _relation(observation: Observation, heard: Heard, stance: float) -> str:
    """agree / disagree / concede / hold / unsure: how the agent relates to what it heard."""
    theirs = number(heard.fields.get("stance")) if heard.fields else None
    if theirs is None and heard.kind == INJECTION:
        theirs = valence(heard.text)
    if theirs is None or abs(theirs) < FIRM or abs(stance) < FIRM:
        return "unsure"
    own = number(observation.own.get("stance"))
    before = own if own is not None else observation.agent.stance
    moved = stance - before if before is not None else 0.0
    if theirs * stance > 0:
        return "concede" if moved * theirs > 0.02 else "agree"
    return "hold" if abs(moved) < 0.01 else "disagree"


_ACTS = {
    "agree": _AGREE,
    "disagree": _DISAGREE,
    "concede": _CONCEDE,
    "hold": _HOLD_FIRM,
    "unsure": _UNSURE,
}
#: The same acts toward news (nobody to call "you").
_NEWS_ACTS = {
    "agree": ("that matches what I see", "that bears out what I've said"),
    "disagree": ("that doesn't persuade me", "I read it differently"),
    "concede": ("that has moved me a little", "I'll admit that changes things"),
    "hold": ("it doesn't change my view", "I'm holding my ground"),
    "unsure": _UNSURE,
}


def opinion(observation: Observation, rng: random.Random, stance: float) -> str:
    agent = observation.agent
    recent = recent_own(observation)
    heard = last_heard(observation)
    values = _with_role(
        observation,
        "a",
        stance=stance_clause(read_topic(observation.topic), stance, rng, recent),
        goal=statement(goal_of(agent.name, agent.goals), rng, recent),
    )
    if heard is None:
        return _say(rng, _OPINION_ALONE, recent, values)
    relation = _relation(observation, heard, stance)
    react = "agree" if relation == "concede" else "disagree" if relation == "hold" else relation
    values["reaction"] = choose(rng, _REACT[react], recent)
    acts = _ACTS if heard.speaker_id is not None else _NEWS_ACTS
    reply = values["reply_low"] = choose(rng, acts[relation], recent)
    name = values["name"] = first_name(observation, heard.speaker_id)
    values["ref_short"] = "the news says" if heard.speaker_id is None else f"{heard.speaker} says"
    lazy = values.lazy
    lazy["ref"] = lambda: reference(observation, heard)
    lazy["ref_cap"] = lambda: capital(values["ref"])
    lazy["hearing"] = lambda: reference(observation, heard, hearing=True)
    lazy["reply"] = lambda: (
        f"{name}, {reply}" if heard.speaker_id else f"{values['ref_cap']} — {reply}"
    )
    pool: tuple[str, ...] = _OPINION_HEARD
    if relation in ("hold", "disagree"):
        pool = _OPINION_HEARD + _OPINION_AGAINST
    if heard.speaker_id is not None and rng.random() < 0.5:
        pool = _OPINION_NAMED
    return _say(rng, pool, recent, values)


# --- actions and open discussion -----------------------------------------------------------

_ACTION = (
    "As {role}, I'll {what}.",
    "Taking action: I'll {what}.",
    "I'm going to {what} now.",
    "Next step from me: I'll {what}.",
    "Right, I'll {what}.",
)
_ACTION_HEARD = (
    "{name}, understood — as {role}, I'll {what}.",
    "Given {ref}, I'm going to {what}.",
    "Thanks, {name}. I'll {what}.",
    "{name}, noted. My move: I'll {what}.",
)
_ACTION_NEWS = (
    "Given {ref}, I'm going to {what}.",
    "{ref_cap}: as {role}, I'll {what}.",
    "In light of {ref}, I'll {what} right away.",
)


def action(observation: Observation, rng: random.Random, act: str, spec: ActionSpec) -> str:
    recent = recent_own(observation)
    values = _with_role(observation, what=describe(act, spec))
    heard = last_heard(observation)
    if heard is None or heard.step < observation.step - 1 or rng.random() >= 0.6:
        return _say(rng, _ACTION, recent, values)
    ref = values["ref"] = reference(observation, heard)
    if heard.speaker_id is None:
        values["ref_cap"] = capital(ref)
        return _say(rng, _ACTION_NEWS, recent, values)
    name = values["name"] = first_name(observation, heard.speaker_id)
    if heard.fields and heard.fields.get("action") == act:
        return tidy(f"{name} is on it and I'm backing that up: I'll {values['what']} too.")
    return _say(rng, _ACTION_HEARD, recent, values)


_DISCUSS_HEARD = (
    '{name}, you said "{quote}" — as {role}, {goal}.',
    "I hear you, {name}. For me it comes down to this: {goal}.",
    '"{quote}" is a fair point, {name}, but {goal}.',
    "{name}, what would it take? As {role}, I need to {aim}.",
    "Fair enough, {name}. Still, {goal}.",
    "{name}, I take your point, but I'm here to {aim}.",
    "That's one way to see it, {name}. {goal}.",
)
_DISCUSS_UNQUOTED = tuple(t for t in _DISCUSS_HEARD if "{quote}" not in t)
_DISCUSS_ALONE = (
    "As {role}, {goal}.",
    "Speaking as {role}: {goal}. Where does everyone stand?",
    "Let's focus. As {role}, I want to {aim}.",
    "I'll start: {goal}.",
    "Here's my position: {goal}.",
)
_NEWS = (
    "Given {ref}, as {role} I still want to {aim}.",
    "{ref_cap} changes things. {goal}.",
    "In light of {ref}, {goal}.",
    "That news matters to me as {role}: I still want to {aim}.",
)


def discussion(observation: Observation, rng: random.Random) -> str:
    agent = observation.agent
    recent = recent_own(observation)
    goal = goal_of(agent.name, agent.goals)
    values = _with_role(observation, goal=statement(goal, rng, recent), aim=goal.aim)
    heard = last_heard(observation)
    if heard is None:
        return _say(rng, _DISCUSS_ALONE, recent, values)
    if heard.speaker_id is None:
        ref = values["ref"] = reference(observation, heard)
        values["ref_cap"] = capital(ref)
        return _say(rng, _NEWS, recent, values)
    values["name"] = first_name(observation, heard.speaker_id)
    quote = values["quote"] = gist(heard.text)
    return _say(rng, _DISCUSS_HEARD if quote else _DISCUSS_UNQUOTED, recent, values)
