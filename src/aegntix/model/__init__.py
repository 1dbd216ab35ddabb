"""Domain types: scenarios, events, branches, state and outcomes; loading and validation."""

from aegntix.model.events import (
    GENESIS_HASH,
    Branch,
    BranchStatus,
    Event,
    EventKind,
    NewEvent,
    ScenarioRecord,
    canonical_json,
    event_hash,
)
from aegntix.model.scenario import (
    ActionSpec,
    AgentSpec,
    BrainConfig,
    NegotiationTerms,
    OutcomeSpec,
    Persona,
    Scenario,
    Termination,
    TurnOrder,
)
from aegntix.model.state import State, apply_event, apply_patch, fold, initial_state

__all__ = [
    "GENESIS_HASH",
    "ActionSpec",
    "AgentSpec",
    "BrainConfig",
    "Branch",
    "BranchStatus",
    "Event",
    "EventKind",
    "NegotiationTerms",
    "NewEvent",
    "OutcomeSpec",
    "Persona",
    "Scenario",
    "ScenarioRecord",
    "State",
    "Termination",
    "TurnOrder",
    "apply_event",
    "apply_patch",
    "canonical_json",
    "event_hash",
    "fold",
    "initial_state",
]
