"""The default kinds turn any decision into exactly the events the engine made before
mechanics were pluggable (a property over random decisions and states, against the old
rules restated here as the reference), so recorded timelines and their forks agree."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aegntix.brains.base import Decision
from aegntix.engine.effects import decision_events
from aegntix.model.events import NewEvent, canonical_json
from aegntix.model.state import State, initial_state
from tests.support import example

NEGOTIATION = example("negotiation")
TOWN_HALL = example("town-hall")
PRICES = st.sampled_from([None, 13000.0, 14000.0, 15000.0, 16500.0])
STANCES = st.sampled_from([None, -1.0, -0.25, 0.0, 0.5, 1.0])


def _reference(scenario: Any, state: State, agent_id: str, decision: Decision) -> list[NewEvent]:
    """The pre-mechanics rules for a say or pass decision (engine/mechanics.py then)."""
    step, events, patch = 1, [], {}
    fields = dict(decision.fields)
    agent = scenario.agent(agent_id)
    own = state["agents"].get(agent_id, {})

    def rejected(reason: str) -> NewEvent:
        return NewEvent(step, "system", {"type": "rejected", "reason": reason}, agent_id)

    if decision.stance is not None and decision.stance != own.get("stance"):
        patch[f"agents.{agent_id}.stance"] = decision.stance
        fields["stance"] = decision.stance
    if decision.offer is not None and agent.negotiation is not None:
        if not math.isfinite(decision.offer):
            return [rejected("offer is not a finite number")]
        if decision.accept:
            wanted = {"buy": "sell", "sell": "buy"}.get(agent.negotiation.side)
            standing = any(
                o.negotiation is not None
                and o.negotiation.side == wanted
                and state["agents"][o.id].get("offer") is not None
                and abs(state["agents"][o.id]["offer"] - decision.offer) <= 1e-9
                for o in scenario.agents
            )
            if standing:
                if not state["world"].get("deal_reached"):
                    patch["world.deal_reached"] = True
                    patch["world.price"] = decision.offer
                fields["accept"] = True
            else:
                events.append(rejected("accepted price is not a standing offer"))
        elif decision.offer != own.get("offer"):
            patch[f"agents.{agent_id}.offer"] = decision.offer
        fields["offer"] = decision.offer
    if decision.action == "say":
        payload = {"text": decision.content, "to": decision.to, "fields": fields}
        events.append(NewEvent(step, "message", payload, agent_id))
    if patch:
        events.append(NewEvent(step, "world", {"set": patch, "cause": "decision"}, agent_id))
    return events


def _same(a: list[NewEvent], b: list[NewEvent]) -> bool:
    def flat(events: list[NewEvent]) -> list[str]:
        return [canonical_json([e.step, str(e.kind), e.agent_id, e.payload]) for e in events]

    return flat(a) == flat(b)


@given(
    scenario=st.sampled_from([NEGOTIATION, TOWN_HALL]),
    who=st.integers(0, 8),
    offers=st.tuples(PRICES, PRICES),
    dealt=st.booleans(),
    action=st.sampled_from(["say", "pass"]),
    offer=st.one_of(PRICES, st.just(math.inf)),
    accept=st.booleans(),
    stance=STANCES,
    held=STANCES,
)
def test_default_kinds_make_the_events_the_engine_made_before(
    scenario: Any,
    who: int,
    offers: tuple[float | None, float | None],
    dealt: bool,
    action: str,
    offer: float | None,
    accept: bool,
    stance: float | None,
    held: float | None,
) -> None:
    agent = scenario.agents[who % len(scenario.agents)]
    state = initial_state(scenario)
    state["agents"][agent.id]["stance"] = held
    if "seller" in state["agents"]:
        state["agents"]["seller"]["offer"], state["agents"]["buyer"]["offer"] = offers
        state["world"]["deal_reached"] = dealt
    decision = Decision(
        action=action,
        content="words",
        offer=offer,
        accept=accept,
        stance=stance,  # type: ignore[arg-type]
    )
    got = decision_events(scenario, state, agent.id, 1, decision)
    assert _same(got, _reference(scenario, state, agent.id, decision))
