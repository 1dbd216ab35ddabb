"""The injection-strategy options every injecting command shares (``fork``, ``inject``,
``rollouts create``), read from the strategy registry."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aegntix.errors import InvalidRequest
from aegntix.inject.kinds import MAX_SPREAD_STEPS
from aegntix.inject.registry import STRATEGIES, strategy_named

StrategyOption = Annotated[
    str,
    typer.Option(
        "--strategy",
        help="How it reaches agents: "
        + "; ".join(f"{s.name} ({s.description})" for s in STRATEGIES.values())
        + ". Default: direct with --target, else broadcast.",
    ),
]
SpreadOption = Annotated[
    int | None,
    typer.Option(
        "--spread",
        help=f"gradual: reach a growing share of the targets over this many steps "
        f"(1..{MAX_SPREAD_STEPS}).",
    ),
]
WaveOption = Annotated[
    list[str] | None,
    typer.Option(
        "--wave",
        help="gradual: OFFSET=agent,agent — who hears it OFFSET steps after it lands "
        "(repeatable; instead of --spread).",
    ),
]


SourceOption = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="organic: where it comes from — news (default) or agent:ID (it first reaches "
        "that agent's neighbours unless --target names the first hearers).",
    ),
]
EdgePOption = Annotated[
    float | None,
    typer.Option("--edge-p", help="organic: the chance each edge passes it on (0..1, default 1)."),
]
MaxStepsOption = Annotated[
    int | None,
    typer.Option(
        "--max-steps", help=f"organic: how many hops it may spread (1..{MAX_SPREAD_STEPS - 1})."
    ),
]


def chosen(
    strategy: str,
    target: list[str] | None,
    spread: int | None,
    wave: list[str] | None,
    organic: tuple[str | None, float | None, int | None] = (None, None, None),
) -> tuple[str, dict[str, Any] | None]:
    """(the strategy name, its schedule) from the options; ``InvalidRequest`` names the
    option and, for an unknown strategy, lists the valid ones. ``organic``: --source,
    --edge-p, --max-steps."""
    if any(v is not None for v in organic):
        name = strategy or "organic"
        strategy_named(name, field="--strategy")
        if name != "organic" or spread is not None or wave:
            raise InvalidRequest(
                f"--source/--edge-p/--max-steps: only --strategy organic takes them, not {name}"
            )
        keys = ("source", "p", "max_steps")
        return name, {k: v for k, v in zip(keys, organic, strict=True) if v is not None}
    if spread is not None and wave:
        raise InvalidRequest("--spread and --wave: give one of them, not both")
    scheduled = spread is not None or bool(wave)
    name = strategy or ("gradual" if scheduled else "direct" if target else "broadcast")
    strategy_named(name, field="--strategy")
    if scheduled and name != "gradual":
        raise InvalidRequest(f"--spread/--wave: only --strategy gradual takes them, not {name}")
    if spread is not None:
        if not 1 <= spread <= MAX_SPREAD_STEPS:
            raise InvalidRequest(f"--spread: must be from 1 to {MAX_SPREAD_STEPS}, not {spread}")
        return name, {"steps": spread}
    if wave:
        return name, {"waves": [_wave(w) for w in wave]}
    return name, None


def _wave(text: str) -> dict[str, Any]:
    offset, sep, agents = text.partition("=")
    if not sep or not offset.strip().isdigit() or not agents.strip():
        raise InvalidRequest(f"--wave: '{text}' is not OFFSET=agent,agent (e.g. 1=ana,ben)")
    return {
        "offset": int(offset),
        "agents": [a.strip() for a in agents.split(",") if a.strip()],
    }
