"""AegntiX: reality sandboxes — event-sourced multi-agent scenarios you can fork and compare.

``import aegntix`` stays light (the CLI starts from it): the library surface in
``aegntix.client`` (``Sandbox``, ``Branch``, ``RolloutSet``, ``Effect``, …) is imported on
first use of one of its names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    # for type checkers; at run time __getattr__ imports them on first use
    from aegntix.client import (
        Branch,
        Effect,
        Events,
        Member,
        Outcomes,
        RolloutSet,
        Sandbox,
        Summary,
    )

__all__ = [
    "Branch",
    "Effect",
    "Events",
    "Member",
    "Outcomes",
    "RolloutSet",
    "Sandbox",
    "Summary",
    "__version__",
]
_CLIENT_NAMES = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    if name in _CLIENT_NAMES:
        from aegntix import client

        return getattr(client, name)
    raise AttributeError(f"module 'aegntix' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _CLIENT_NAMES)
