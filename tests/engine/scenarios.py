"""Hypothesis strategies for whole scenarios, from the three families the rules brain
knows: negotiation, opinion dynamics and action selection."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from aegntix.model.loading import validate_scenario
from aegntix.model.scenario import Scenario

traits = st.floats(0, 1, allow_nan=False).map(lambda x: round(x, 3))


@st.composite
def personas(draw: st.DrawFn) -> dict[str, float]:
    keys = ["openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"]
    return {k: draw(traits) for k in keys}


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    family = draw(st.sampled_from(["negotiation", "debate", "incident"]))
    data: dict[str, Any] = {
        "name": f"generated {family}",
        "seed": draw(st.integers(0, 2**32)),
        "turn_order": draw(st.sampled_from(["round_robin", "simultaneous", "random"])),
        "memory_window": draw(st.integers(0, 3)),
        "termination": {"max_steps": draw(st.integers(2, 8))},
    }
    if family == "negotiation":
        low = draw(st.integers(100, 1000))
        data["world"] = {"deal_reached": False, "price": None}
        data["agents"] = [
            {
                "id": "seller",
                "name": "S",
                "role": "seller",
                "persona": draw(personas()),
                "negotiation": {"side": "sell", "reservation": low + 100, "target": low + 500},
            },
            {
                "id": "buyer",
                "name": "B",
                "role": "buyer",
                "persona": draw(personas()),
                "negotiation": {"side": "buy", "reservation": low + 400, "target": low},
            },
        ]
        if draw(st.booleans()):
            data["agents"].append(
                {
                    "id": "mediator",
                    "name": "M",
                    "role": "mediator",
                    "persona": draw(personas()),
                    "negotiation": {"side": "mediate"},
                }
            )
        data["outcomes"] = {"deal": "deal_reached", "price": "price"}
        data["termination"]["when"] = "deal_reached"
    elif family == "debate":
        n = draw(st.integers(2, 6))
        data["agents"] = [
            {
                "id": f"a{i}",
                "name": f"Agent {i}",
                "role": "resident",
                "persona": draw(personas()),
                "stance": draw(st.floats(-1, 1, allow_nan=False).map(lambda x: round(x, 3))),
            }
            for i in range(n)
        ]
        data["outcomes"] = {"mean": "mean_stance", "spread": "stance_spread"}
    else:
        data["world"] = {"health": 0.5, "risk": 0.5}
        data["actions"] = {
            "fix": {"effects": {"health": "min(1, health + 0.2)"}, "keywords": ["fix"]},
            "audit": {"effects": {"risk": "max(0, risk - 0.1)"}, "keywords": ["audit"]},
            "announce": {"effects": {"risk": "risk + 0.05"}, "once": True},
        }
        data["dynamics"] = {"risk": "min(1, risk + 0.02)"}
        data["agents"] = [
            {
                "id": f"r{i}",
                "name": f"Responder {i}",
                "role": "responder",
                "persona": draw(personas()),
                "actions": ["fix", "audit", "announce"],
                "objective": "health - risk",
            }
            for i in range(draw(st.integers(1, 4)))
        ]
        data["outcomes"] = {"health": "health", "risk": "risk"}
    return validate_scenario(data)
