"""Every injection strategy, registered once: the API schema, the CLI's ``--strategy``
choices, the client, ``GET /v1/meta`` (and through it the UI) and the engine read this."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aegntix.errors import InvalidRequest
from aegntix.inject.base import Hearing, InjectionStrategy
from aegntix.inject.kinds import Broadcast, Direct, Gradual
from aegntix.inject.organic import Organic

STRATEGIES: dict[str, InjectionStrategy] = {
    s.name: s for s in (Direct(), Broadcast(), Gradual(), Organic())
}

#: What a recorded injection without a (known) strategy is treated as.
DEFAULT = "broadcast"


def names() -> tuple[str, ...]:
    return tuple(STRATEGIES)


def strategy_named(name: object, *, field: str = "strategy") -> InjectionStrategy:
    """The strategy called ``name``, or ``InvalidRequest`` listing the valid choices."""
    found = STRATEGIES.get(name) if isinstance(name, str) else None
    if found is None:
        raise InvalidRequest(f"{field}: '{name}' is not one of {', '.join(STRATEGIES)}")
    return found


def of_event(payload: Mapping[str, Any]) -> InjectionStrategy:
    """The strategy of a recorded injection event (never raises: old events had fewer)."""
    return STRATEGIES.get(str(payload.get("strategy")), STRATEGIES[DEFAULT])


def hearing(payload: Mapping[str, Any], step: int) -> Hearing:
    """Who sees a recorded injection event at ``step`` (what observation asks)."""
    return of_event(payload).hearing(payload, step)


def meta() -> list[dict[str, Any]]:
    """The registered strategies as ``GET /v1/meta`` lists them."""
    return [
        {
            "name": s.name,
            "description": s.description,
            "parameters": [p.json() for p in s.parameters],
        }
        for s in STRATEGIES.values()
    ]
