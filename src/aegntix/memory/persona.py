"""Personality that drifts within bounds (the seed's persistent personality engine).

Core traits are the persona the scenario (or the persistent agent) was given; they never
change. The ``adaptive`` ones move with experience: at each reflection, signals read from the
memories since the last one (pressure and hostility, warmth and agreement, a changed mind) push
each adaptive trait by at most ``adaptation_rate``. ``consistency`` is 1 minus the mean
absolute difference between current and core Big Five; a change that would take it below
``stability_threshold`` is refused — recorded, not applied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aegntix.brains.rules.lexicon import pressure, valence
from aegntix.memory.records import Memory, MemoryKind
from aegntix.model.scenario import BIG_FIVE, Persona


def consistency(traits: Mapping[str, float], core: Mapping[str, float]) -> float:
    """1 − mean |current − core| over the Big Five: 1 is the core persona itself."""
    return round(1.0 - sum(abs(traits[t] - core[t]) for t in BIG_FIVE) / len(BIG_FIVE), 6)


@dataclass(frozen=True, slots=True)
class Experience:
    """What the memories since the last reflection felt like, each in [-1, 1]."""

    conflict: float  # pressure and hostility aimed at the agent
    warmth: float  # supportive minus hostile tone
    agreement: float  # how close the others' stances are to the agent's
    moved: float  # how far the agent's own stance moved (0..1)
    urgency: float  # mean urgency of injections it received (0..1)
    compared: bool = True  # False: no earlier position to compare (a mediator, a first offer)

    def as_json(self) -> dict[str, float]:
        return {k: round(float(getattr(self, k)), 4) for k in self.__slots__ if k != "compared"}


def experience(
    memories: Sequence[Memory],
    now: float | None,
    then: float | None,
    others: Mapping[str, float | None],
    *,
    valenced: bool = True,
) -> Experience:
    """What the memories since the last reflection felt like. Positions are in -1..1: a
    stance, or a negotiator's offer within its own range (see ``aegntix.memory.stream``).
    The lexicon's valence says for or against the *proposal*, so (``valenced``: a stance) it
    is warmth when it sides with the agent and hostility when it opposes it."""
    heard = [m for m in memories if m.kind in (MemoryKind.OBSERVATION, MemoryKind.INJECTION)]
    side = 0.0 if not now or not valenced else (1.0 if now > 0 else -1.0)
    conflict = warmth = urgency = 0.0
    if heard:
        aligned = [valence(m.text) * side for m in heard]
        warmth = sum(aligned) / len(heard)
        urged = sum(pressure(m.text) for m in heard) / len(heard)
        opposed = sum(max(0.0, -a) for a in aligned) / len(heard)
        conflict = min(1.0, urged + opposed / 2)
    injections = [m for m in heard if m.kind == MemoryKind.INJECTION]
    if injections:
        urgency = sum(min(1.0, m.importance / 10) for m in injections) / len(injections)
    agreement = 0.0
    known = [s for s in others.values() if s is not None]
    if now is not None and known:
        # 1 when everyone stands where the agent does, -1 when at the opposite end
        agreement = sum(1.0 - abs(now - s) for s in known) / len(known)
    moved = 0.0
    if now is not None and then is not None:
        moved = min(1.0, abs(now - then) * 2)
    return Experience(
        conflict, warmth, max(-1.0, agreement), moved, urgency, compared=then is not None
    )


def _clip(x: float) -> float:
    return max(-1.0, min(1.0, x))


def signals(exp: Experience) -> dict[str, float]:
    """How experience pushes each trait, in [-1, 1] (scaled by ``adaptation_rate``)."""
    return {
        "agreeableness": _clip((exp.warmth + exp.agreement) / 2 - exp.conflict),
        "neuroticism": _clip(exp.conflict + exp.urgency / 2 - max(0.0, exp.agreement) / 2),
        # a changed mind opens it, holding firm closes it a little
        "openness": _clip(exp.moved - 0.25) if exp.compared else 0.0,
        "extraversion": _clip(exp.warmth / 2),
        "conscientiousness": _clip(exp.urgency / 2 - exp.conflict / 4),
    }


def adapt(
    persona: Persona, current: Mapping[str, float], exp: Experience
) -> tuple[dict[str, float] | None, dict[str, Any]]:
    """The adapted traits (None if nothing changes or the change is refused) and the record
    of the attempt, for the ``memory`` event."""
    core = persona.big_five()
    push = signals(exp)
    proposed = dict(current)
    for trait in persona.adaptive:
        moved = current[trait] + persona.adaptation_rate * push[trait]
        proposed[trait] = round(min(1.0, max(0.0, moved)), 4)
    if proposed == dict(current):
        return None, {}
    score = consistency(proposed, core)
    record: dict[str, Any] = {
        "experience": exp.as_json(),
        "from": {t: current[t] for t in persona.adaptive},
        "to": {t: proposed[t] for t in persona.adaptive},
        "consistency": score,
        "threshold": persona.stability_threshold,
    }
    if score < persona.stability_threshold:
        record["applied"] = False
        return None, record
    record["applied"] = True
    return proposed, record
