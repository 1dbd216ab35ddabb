"""Delphi panelists and voters, as the rules brain plays them.

A panelist answers its own prior (``AgentSpec.estimate``) in the first round; after each
round's feedback it moves toward the group median by α = 0.1 + 0.5·agreeableness +
0.3·openness (0.1 … 0.9 of the way), wavers by a seeded step of sd 0.1·neuroticism·IQR, and
an estimate it is shown this step (an injection's ``fields.estimate``, or the one number in
its text) pulls it by the opinion kind's susceptibility η. A panelist without a prior waits
for the first feedback and then starts from the median. With every panelist alike and calm,
the IQR shrinks by exactly (1 − α) a round, so convergence is predictable.

A voter's ballot follows its stance: the options split −1..1 into equal bins, the first
option at the top (for yes/no: yes for a positive stance, no for a negative one, abstain
within ±0.05 of neutral).
"""

from __future__ import annotations

import random
import re

from aegntix.brains.base import Decision, Observation, VisibleEvent
from aegntix.brains.rules.opinion import speaking_chance, susceptibility
from aegntix.brains.rules.signals import clamp, injections, number
from aegntix.mechanics.delphi import OWN
from aegntix.model.scenario import Persona

#: sd of a panelist's seeded wobble per round, as a share of the IQR, at neuroticism 1.
WOBBLE = 0.1
#: A yes/no voter abstains within this of a neutral stance.
ABSTAIN_BAND = 0.05
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*")


def pull(persona: Persona) -> float:
    """α: how far toward the median a panelist moves in a round."""
    return 0.1 + 0.5 * persona.agreeableness + 0.3 * persona.openness


def stated_estimate(event: VisibleEvent) -> float | None:
    """The figure an injection states: ``fields.estimate``, else its text's only number."""
    explicit = number(event.fields.get("estimate"))
    if explicit is not None:
        return explicit
    found = _NUMBER.findall(event.text)
    if len(found) != 1:
        return None
    try:
        return float(found[0].replace(",", ""))
    except ValueError:
        return None


def next_estimate(observation: Observation, rng: random.Random) -> float | None:
    """This round's estimate (None: nothing to go on yet)."""
    persona = observation.agent.persona
    world = observation.world
    median, iqr = number(world.get("delphi_median")), number(world.get("delphi_iqr"))
    x = number(observation.own.get(OWN))
    if x is None:
        x = observation.agent.estimate
    if x is None:
        x = median
    if x is None:
        return None
    if median is not None:
        x += pull(persona) * (median - x)
        if iqr and persona.neuroticism > 0:
            x += rng.gauss(0.0, WOBBLE * persona.neuroticism * iqr)
    eta = susceptibility(persona)
    for event in injections(observation):
        figure = stated_estimate(event) if event.step == observation.step else None
        if figure is not None:
            x += eta * (figure - x)
    low, high = number(world.get("delphi_low")), number(world.get("delphi_high"))
    x = clamp(x, low if low is not None else x, high if high is not None else x)
    return round(x, 6)


_SAYINGS = {
    "up": (
        "Having seen the panel's median, I revise my estimate upward.",
        "The group's figure is higher than mine; I move up toward it.",
    ),
    "down": (
        "Having seen the panel's median, I revise my estimate downward.",
        "The group's figure is lower than mine; I come down toward it.",
    ),
    "held": (
        "I hold my estimate for now.",
        "Nothing I have seen changes my figure.",
    ),
}


def decide(observation: Observation, rng: random.Random) -> Decision:
    before = number(observation.own.get(OWN))
    estimate = next_estimate(observation, rng)
    fields = {} if estimate is None else {"estimate": estimate}
    if estimate is None or rng.random() >= speaking_chance(observation) * 0.5:
        return Decision(action="pass", fields=fields)
    change = "held" if before is None or abs(estimate - before) < 1e-9 else None
    change = change or ("up" if estimate > (before or 0.0) else "down")
    return Decision(action="say", content=rng.choice(_SAYINGS[change]), fields=fields)


def ballot(observation: Observation, stance: float | None) -> str | None:
    """The option a voter with ``stance`` chooses (None: no stance, no ballot)."""
    options = observation.world.get("vote_options")
    voters = observation.world.get("vote_voters")
    if stance is None or not isinstance(options, list) or not options:
        return None
    if isinstance(voters, list) and observation.agent.id not in voters:
        return None
    if len(options) == 2 and abs(stance) <= ABSTAIN_BAND:
        return "abstain"
    k = len(options)
    index = min(k - 1, int((1.0 - clamp(stance, -1.0, 1.0)) / 2.0 * k))
    return str(options[index])
