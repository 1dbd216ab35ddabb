"""Mechanics: what each scenario kind adds to the engine (``base.Mechanics``), the built-in
kinds, and the registry a scenario selects from (``mechanics:`` in the scenario file)."""

from aegntix.mechanics.base import (
    BaseMechanics,
    DecisionField,
    Mechanics,
    Position,
    Turn,
    decision_value,
)
from aegntix.mechanics.bounded_confidence import BoundedConfidence
from aegntix.mechanics.delphi import Delphi
from aegntix.mechanics.incident import Discussion, Incident
from aegntix.mechanics.negotiation import Negotiation
from aegntix.mechanics.opinion import Opinion
from aegntix.mechanics.registry import (
    DEFAULT,
    Combined,
    check_names,
    combined,
    mechanics_of,
    options_of,
    register,
    registered,
    unregister,
    unselected_terms,
)
from aegntix.mechanics.vote import Vote

for _builtin in (
    Negotiation(),
    Opinion(),
    Incident(),
    Discussion(),
    Vote(),
    Delphi(),
    BoundedConfidence(),
):
    register(_builtin)

__all__ = [
    "DEFAULT",
    "BaseMechanics",
    "BoundedConfidence",
    "Combined",
    "DecisionField",
    "Delphi",
    "Discussion",
    "Incident",
    "Mechanics",
    "Negotiation",
    "Opinion",
    "Position",
    "Turn",
    "Vote",
    "check_names",
    "combined",
    "decision_value",
    "mechanics_of",
    "options_of",
    "register",
    "registered",
    "unregister",
    "unselected_terms",
]
