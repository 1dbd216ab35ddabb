"""Choosing among templates with the decision's rng, avoiding the shapes the agent used in
its own last few utterances (read from its visible window, so a replay or a fork with no
intervention chooses exactly as its parent did).

A template's *anchor* is its longest literal stretch ("has my full support" in
"{t} has my full support"); a template counts as used when its anchor appears in one of the
agent's recent utterances. Every pick draws exactly one ``rng.random()``.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

from aegntix.brains.base import Observation

#: How many of its own latest utterances an agent avoids echoing.
RECENT = 3
_FIELD = re.compile(r"\{[a-z_]+\}")


@lru_cache(maxsize=2048)
def anchor(template: str) -> str:
    """The longest literal stretch of ``template``, lower-cased and trimmed."""
    parts = [p.strip(" ,;:.—-").lower() for p in _FIELD.split(template)]
    return max(parts, key=len)


@lru_cache(maxsize=512)
def _anchors(pool: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(anchor(t) for t in pool)


def recent_own(observation: Observation) -> str:
    """The agent's own last few utterances in its window, lower-cased, one per line ("" if
    it has said nothing there)."""
    me = observation.agent.id
    found: list[str] = []
    for event in reversed(observation.visible):
        if event.agent_id == me and event.text:
            found.append(event.text)
            if len(found) == RECENT:
                break
    return "\n".join(found).lower()


def choose(rng: random.Random, pool: tuple[str, ...], recent: str = "") -> str:
    """A template from ``pool``: the rng's pick, or the next one round the pool whose anchor
    the agent has not used recently (the rng's pick when all have been)."""
    start = int(rng.random() * len(pool))
    if not recent:
        return pool[start]
    anchors = _anchors(pool)
    for offset in range(len(pool)):
        at = (start + offset) % len(pool)
        if not anchors[at] or anchors[at] not in recent:
            return pool[at]
    return pool[start]
