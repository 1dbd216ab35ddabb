"""Generated sentences: several templates per intent, picked with the decision's rng, that
reflect the agent's role, goal, stance or offer and the last thing said to it."""

from __future__ import annotations

import random
from collections.abc import Sequence

from aegntix.brains.base import Observation
from aegntix.brains.rules.lexicon import valence
from aegntix.brains.rules.phrasing import (
    aim,
    capital,
    describe,
    first_name,
    gist,
    goal,
    price,
    reference,
    role,
    stance_words,
    topic,
)
from aegntix.brains.rules.signals import INJECTION, last_heard, number
from aegntix.model.scenario import ActionSpec


def _pick(rng: random.Random, templates: Sequence[str], **values: str) -> str:
    return templates[int(rng.random() * len(templates))].format(**values)


# --- negotiation ---------------------------------------------------------------------------

_OPEN = (
    "As {role}, I'm opening at {offer}.",
    "Let's start the conversation at {offer}; my goal: {goal}.",
    "Speaking as {role}: {offer} is a fair place to begin.",
)
_COUNTER = (
    "As {role}, I can {move} {offer} — {name}, {theirs} {fails}.",
    "{name}, {theirs} {fails}. My offer is {offer}.",
    "I hear you, {name}, but {theirs} {fails}; I'll {move} {offer}.",
    "Speaking as {role}: {offer}. {name}, {theirs} {fails}.",
)
_ACCEPT = (
    "Deal — {name}, {offer} works for me.",
    "{name}, I accept {offer}.",
    "Agreed at {offer}. Thank you, {name}.",
)
_MEDIATE = (
    "{buyer} is at {bid} and {seller} at {ask}: I propose we meet at {offer}.",
    "Let's split the difference at {offer}. {seller}, {buyer}, can you both live with that?",
    "As {role}, I suggest {offer}; the gap between you is {gap}.",
)
_MEDIATE_WAIT = (
    "As {role}, I'd like to hear both opening numbers first.",
    "Let's get both offers on the table, then find the middle.",
)
_CLOSING = (
    "Glad we reached a deal at {price}.",
    "That settles it at {price}. Good doing business.",
    "Deal done at {price}; let's write it up.",
)


_LOWERABLE = frozenset({"As", "Let's", "Speaking"})


def counter_offer(
    observation: Observation,
    rng: random.Random,
    offer: float,
    counterpart: tuple[str, float] | None,
) -> str:
    agent = observation.agent
    selling = agent.negotiation is not None and agent.negotiation.side == "sell"
    values = {"role": role(agent), "offer": price(offer), "goal": goal(agent)}
    if counterpart is None:
        line = _pick(rng, _OPEN, **values)
    else:
        name, theirs = counterpart
        fails = "doesn't cover our costs" if selling else "is more than I can justify"
        if rng.random() < 0.5:
            fails = "is too low for us" if selling else "is too high for us"
        move = "come down to" if selling else "go up to"
        line = _pick(
            rng, _COUNTER, move=move, name=name, theirs=price(theirs), fails=fails, **values
        )
    heard = last_heard(observation)
    if heard is not None and heard.kind == INJECTION and heard.step == observation.step:
        first, _, rest = line.partition(" ")
        if first in _LOWERABLE:  # "As the seller…" → "…, as the seller…"; names and "I" stay
            line = f"{first.lower()} {rest}"
        line = f"Given {reference(observation, heard)}, {line}"
    return line


def accept(observation: Observation, rng: random.Random, offer: float, name: str) -> str:
    return _pick(rng, _ACCEPT, name=name, offer=price(offer))


def mediate(
    observation: Observation,
    rng: random.Random,
    proposal: float | None,
    bid: tuple[str, float] | None = None,
    ask: tuple[str, float] | None = None,
) -> str:
    agent_role = role(observation.agent)
    if proposal is None or bid is None or ask is None:
        return _pick(rng, _MEDIATE_WAIT, role=agent_role)
    return _pick(
        rng,
        _MEDIATE,
        role=agent_role,
        offer=price(proposal),
        buyer=bid[0],
        bid=price(bid[1]),
        seller=ask[0],
        ask=price(ask[1]),
        gap=price(abs(ask[1] - bid[1])),
    )


def closing(observation: Observation, rng: random.Random) -> str:
    agreed = number(observation.world.get("price"))
    return _pick(rng, _CLOSING, price=price(agreed) if agreed is not None else "the agreed price")


# --- opinion -------------------------------------------------------------------------------


_FIRM = 0.2  # a stance this far from 0 is an opinion, closer it is doubt
_OPINION_HEARD = (
    "Speaking as {a_role}, I {verb} {topic}; {ref}, {reaction}.",
    "I {verb} {topic}. {ref_cap} — {reaction}.",
    "After {hearing}, I {verb} {topic}; my goal: {goal}.",
)
_OPINION_ALONE = (
    "Speaking as {a_role}, I {verb} {topic}.",
    "As {a_role}, I {verb} {topic} — my goal: {goal}.",
    "Let me be clear: I {verb} {topic}.",
)


def opinion(observation: Observation, rng: random.Random, stance: float) -> str:
    agent = observation.agent
    values = {
        "a_role": role(agent, "a"),
        "verb": stance_words(stance),
        "topic": topic(observation),
        "goal": goal(agent),
    }
    heard = last_heard(observation)
    if heard is None:
        return _pick(rng, _OPINION_ALONE, **values)
    theirs = number(heard.fields.get("stance")) if heard.fields else None
    if theirs is None and heard.kind == INJECTION:
        theirs = valence(heard.text)
    if theirs is None or abs(theirs) < _FIRM or abs(stance) < _FIRM:
        reaction = "and that weighs on me" if rng.random() < 0.5 else "which I take seriously"
    elif theirs * stance > 0:
        reaction = "and I agree" if rng.random() < 0.5 else "and that matches what I see"
    else:
        reaction = f"but I'm here to {aim(agent)}" if agent.goals else "but I'm not convinced"
    ref = reference(observation, heard)
    return _pick(
        rng,
        _OPINION_HEARD,
        ref=ref,
        ref_cap=capital(ref),
        hearing=reference(observation, heard, hearing=True),
        reaction=reaction,
        **values,
    )


# --- actions and open discussion -----------------------------------------------------------

_ACTION = (
    "As {role}, I'll {what}.",
    "Taking action: {what}.",
    "I'm going to {what} now.",
)
_ACTION_HEARD = (
    "{name}, understood — as {role}, I'll {what}.",
    "Given {ref}, I'm going to {what}.",
)
_ACTION_NEWS = (
    "Given {ref}, I'm going to {what}.",
    "{ref_cap}: as {role}, I'll {what}.",
)


def action(observation: Observation, rng: random.Random, act: str, spec: ActionSpec) -> str:
    values = {"role": role(observation.agent), "what": describe(act, spec)}
    heard = last_heard(observation)
    if heard is None or heard.step < observation.step - 1 or rng.random() >= 0.6:
        return _pick(rng, _ACTION, **values)
    ref = reference(observation, heard)
    if heard.speaker_id is None:
        return _pick(rng, _ACTION_NEWS, ref=ref, ref_cap=capital(ref), **values)
    name = first_name(observation, heard.speaker_id)
    if heard.fields and heard.fields.get("action") == act:
        return f"{name} is on it and I'm backing that up: I'll {values['what']} too."
    return _pick(rng, _ACTION_HEARD, name=name, ref=ref, **values)


_DISCUSS_HEARD = (
    '{name}, you said "{quote}" — as {role}, my goal: {goal}.',
    "I hear you, {name}. For me it comes down to this: {goal}.",
    'Speaking as {role}: "{quote}" is a fair point, {name}, but my goal: {goal}.',
    "{name}, what would it take? As {role}, I need to {aim}.",
)
_DISCUSS_ALONE = (
    "As {role}, my goal: {goal}.",
    "Speaking as {role}: {goal}. Where does everyone stand?",
    "Let's focus. As {role}, I want to {aim}.",
)
_NEWS = (
    "Given {ref}, as {role} I still want to {aim}.",
    "{ref_cap} changes things. As {role}, my goal: {goal}.",
)


def discussion(observation: Observation, rng: random.Random) -> str:
    agent = observation.agent
    values = {"role": role(agent), "goal": goal(agent), "aim": aim(agent)}
    heard = last_heard(observation)
    if heard is None:
        return _pick(rng, _DISCUSS_ALONE, **values)
    if heard.speaker_id is None:
        ref = reference(observation, heard)
        return _pick(rng, _NEWS, ref=ref, ref_cap=capital(ref), **values)
    name = first_name(observation, heard.speaker_id)
    return _pick(rng, _DISCUSS_HEARD, name=name, quote=gist(heard.text), **values)
