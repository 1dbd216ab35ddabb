"""How important a memory is (1..10), judged by rules: deterministic, offline, cheap.

The scale follows *Generative Agents* (Park et al. 2023): 1 is mundane, 10 is poignant. Points
add up from what is plainly checkable in the event: its kind, whether it was addressed to the
agent, an injection's urgency, pressure or leverage phrases, a strong valence, and offers,
acceptances and actions. A model-backed brain may score instead (``scored_by: brain``).
"""

from __future__ import annotations

from aegntix.brains.base import VisibleEvent
from aegntix.brains.rules.lexicon import leverage, pressure, valence

_BASE = {"message": 2.0, "action": 4.0, "injection": 4.0}


def clamp_importance(value: float) -> float:
    return float(min(10, max(1, round(value))))


def _text_points(text: str) -> float:
    points = 3.0 * pressure(text) + 2.0 * leverage(text)
    if abs(valence(text)) > 0.5:
        points += 1.0
    return points


def observation_importance(event: VisibleEvent, agent_id: str, agent_name: str) -> float:
    """Importance of something ``agent_id`` saw."""
    points = _BASE.get(event.kind, 2.0) + _text_points(event.text)
    if event.to is not None and agent_id in event.to:
        points += 2.0  # said to me, not to the room
    if event.urgency is not None:
        points += 4.0 * event.urgency
    if agent_name and agent_name.lower() in event.text.lower():
        points += 1.0
    if event.fields.get("accept"):
        points += 4.0
    elif event.fields.get("offer") is not None:
        points += 1.0
    return clamp_importance(points)


def action_importance(kind: str, text: str, fields: dict[str, object]) -> float:
    """Importance of what the agent itself said or did."""
    points = (3.0 if kind == "message" else 5.0) + _text_points(text) / 2
    if fields.get("accept"):
        points += 4.0
    return clamp_importance(points)
