"""Negotiation: buyers and sellers make offers; accepting the other side's standing offer
closes the deal (``world.deal_reached``, ``world.price``). A mediator proposes prices but
cannot accept. Only agents with ``negotiation`` terms take part."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aegntix.mechanics.base import BaseMechanics, DecisionField, Position, State, Turn

if TYPE_CHECKING:
    from aegntix.brains.base import Decision, Observation
    from aegntix.model.scenario import AgentSpec, Scenario

OFFER = DecisionField(
    "offer",
    {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None},
    "negotiators only: your price now (never past your walk-away price)",
)
ACCEPT = DecisionField(
    "accept",
    {"default": False, "type": "boolean"},
    "negotiators only: true to accept the other side's standing offer (offer = it)",
)
_OPPOSITE = {"buy": "sell", "sell": "buy"}


class Negotiation(BaseMechanics):
    name = "negotiation"
    decision_fields = (OFFER, ACCEPT)
    agent_names = frozenset({"offer"})
    agent_terms = frozenset({"negotiation"})

    def initial_agent(self, agent: AgentSpec) -> dict[str, Any]:
        return {"offer": None}

    def world_defaults(self, scenario: Scenario) -> dict[str, Any]:
        # where a deal is recorded, as soon as anyone negotiates
        if any(a.negotiation is not None for a in scenario.agents):
            return {"deal_reached": False, "price": None}
        return {}

    def on_decision(self, turn: Turn) -> None:
        offer, agent = turn.decision.offer, turn.agent
        if offer is None or agent.negotiation is None:
            return
        if not math.isfinite(offer):
            turn.refuse("offer is not a finite number")
            return
        if turn.decision.accept:
            if _is_standing(turn.scenario, turn.state, agent, offer):
                if not turn.state["world"].get("deal_reached"):
                    turn.patch["world.deal_reached"] = True
                    turn.patch["world.price"] = offer
                turn.fields["accept"] = True
            else:
                turn.reject("accepted price is not a standing offer")
        elif offer != turn.own.get("offer"):
            turn.patch[f"agents.{agent.id}.offer"] = offer
        turn.fields["offer"] = offer

    def position(self, agent: AgentSpec, own: Mapping[str, Any]) -> Position | None:
        """A buyer's or seller's offer within its own range: -1 at its aspiration, 1 at its
        walk-away price; a mediator has none."""
        terms = agent.negotiation
        if terms is None:
            return None
        if terms.side == "mediate":
            return Position(None, valenced=False)
        offer = own.get("offer")
        assert terms.target is not None and terms.reservation is not None
        span = terms.reservation - terms.target
        if offer is None or not span:
            return Position(None, valenced=False)
        share = (float(offer) - terms.target) / span
        return Position(round(max(-1.0, min(1.0, 2 * share - 1)), 6), valenced=False)

    def prompt_lines(self, agent: AgentSpec) -> list[str]:
        from aegntix.brains.prompting import num

        terms = agent.negotiation
        if terms is None:
            return []
        if terms.side == "mediate":
            return ["You mediate the negotiation: propose fair prices as offer; you cannot accept."]
        verb = "buying" if terms.side == "buy" else "selling"
        return [
            f"You are {verb}. You open near {num(terms.target)}; your walk-away price is "
            f"{num(terms.reservation)} and you never go past it. To accept the other "
            "side's standing offer, answer accept: true with offer equal to it."
        ]

    def checked(self, decision: Decision, observation: Observation) -> dict[str, Any]:
        if decision.offer is not None and not math.isfinite(decision.offer):
            raise ValueError("numbers must be finite")
        return {"offer": _standing_offer(observation, decision.offer)} if decision.accept else {}

    def describe(self, fields: Mapping[str, Any]) -> str:
        from aegntix.memory.records import amount

        offer = fields.get("offer")
        return f" (offer {amount(offer)})" if isinstance(offer, int | float) else ""


def _is_standing(scenario: Scenario, state: State, agent: AgentSpec, price: float) -> bool:
    assert agent.negotiation is not None
    wanted = _OPPOSITE.get(agent.negotiation.side)  # a mediator proposes; it cannot accept
    for other in scenario.agents:
        if other.negotiation is not None and other.negotiation.side == wanted:
            offer = state["agents"].get(other.id, {}).get("offer")
            if offer is not None and math.isclose(offer, price, rel_tol=0, abs_tol=1e-9):
                return True
    return False


def _standing_offer(obs: Observation, offer: float | None) -> float | None:
    """An accept names the other side's standing offer; models round, so take the nearest."""
    me = obs.agent.negotiation
    if me is None or me.side == "mediate":
        return offer
    wanted = "sell" if me.side == "buy" else "buy"
    standing = [
        float(obs.others[i]["offer"])
        for i, spec in obs.roster.items()
        if spec.negotiation is not None
        and spec.negotiation.side == wanted
        and obs.others.get(i, {}).get("offer") is not None
    ]
    if not standing:
        return offer
    if offer is None:
        return min(standing) if wanted == "sell" else max(standing)
    nearest = min(standing, key=lambda s: abs(s - offer))
    return nearest if abs(nearest - offer) <= max(1.0, abs(nearest) * 0.005) else offer
