"""Incident (a tabletop exercise): responders act on the world through the scenario's
declared ``actions`` (effects on world facts), and ``dynamics`` move it every step.

Actions, effects and dynamics are the engine's base vocabulary, open to every kind, so this
kind adds no decision fields or built-ins of its own: it names the scenario kind (declare
``mechanics: incident``) without negotiation's offers or opinion's stances.
"""

from __future__ import annotations

from aegntix.mechanics.base import BaseMechanics


class Incident(BaseMechanics):
    name = "incident"


class Discussion(BaseMechanics):
    """The generic fallback: agents only speak, act and pass; nothing kind-specific."""

    name = "discussion"
