"""What the consensus protocols (``vote``, ``delphi``, ``bounded_confidence``) share: their
options read from ``mechanics: {name: {...}}`` and checked with field paths, the outcome
names every protocol gives expressions, and the quartiles they summarise numbers with.

Every protocol keeps its results in world facts named ``<prefix>decision``,
``<prefix>decided_round``, ``<prefix>agreement`` and ``<prefix>concluded`` (written by its
round events, so state stays a fold of events) and exposes them to expressions under the
common names :data:`OUTCOME_NAMES`; two protocols therefore cannot act together (the
registry refuses kinds that define the same built-in name).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from aegntix.mechanics.base import BaseMechanics, Loc, State
from aegntix.mechanics.registry import options_of

if TYPE_CHECKING:
    from aegntix.model.scenario import Scenario

#: What every protocol exposes to expressions (outcomes, termination, objectives).
OUTCOME_NAMES = frozenset({"decision", "decided_round", "agreement", "concluded"})

OptionsT = TypeVar("OptionsT", bound=BaseModel)


class Options(BaseModel):
    """A protocol's options (unknown keys and NaN refused, like the scenario file's)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


#: (kind name, id of the scenario) -> (the scenario, its parsed options); holding the
#: scenario keeps its id from being reused.
_PARSED: dict[tuple[str, int], tuple[Any, BaseModel]] = {}


def parsed(scenario: Scenario, name: str, model: type[OptionsT]) -> OptionsT:
    """The kind's options of a valid scenario, parsed once per scenario object."""
    key = (name, id(scenario))
    hit = _PARSED.get(key)
    if hit is not None and hit[0] is scenario:
        found = hit[1]
        assert isinstance(found, model)
        return found
    if len(_PARSED) >= 1024:
        _PARSED.clear()
    made = model.model_validate(dict(options_of(scenario, name)))
    _PARSED[key] = (scenario, made)
    return made


def option_problems(
    scenario: Scenario, name: str, model: type[OptionsT]
) -> tuple[OptionsT | None, list[tuple[Loc, str]]]:
    """(the options or None, their type problems), each at ``mechanics.<name>.<field>``."""
    try:
        return model.model_validate(dict(options_of(scenario, name))), []
    except ValidationError as exc:
        found: list[tuple[Loc, str]] = []
        for error in exc.errors(include_url=False):
            loc: Loc = ("mechanics", name, *error["loc"])
            found.append((loc, str(error["msg"])))
        return None, found


def unknown_ids(
    scenario: Scenario, name: str, field: str, ids: Sequence[str]
) -> list[tuple[Loc, str]]:
    """A problem for every id in ``ids`` that is not an agent's."""
    known = {a.id for a in scenario.agents}
    return [
        (("mechanics", name, field), f"'{i}' is not an agent of this scenario")
        for i in ids
        if i not in known
    ]


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(q1, median, q3) by linear interpolation between order statistics (the "inclusive"
    method: numpy's default, Excel's QUARTILE.INC); one value is all three."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")

    def at(p: float) -> float:
        pos = (len(ordered) - 1) * p
        low = math.floor(pos)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)

    return at(0.25), at(0.5), at(0.75)


def clean(value: float) -> float:
    """A number as state keeps it: rounded, so platforms agree and diffs stay quiet."""
    return round(value, 9)


class Protocol(BaseMechanics):
    """A consensus protocol: its results under its world prefix, exposed as
    :data:`OUTCOME_NAMES` and as ``<name>_*`` facts the agents see."""

    prefix = "consensus_"
    builtin_names = OUTCOME_NAMES

    def result_defaults(self) -> dict[str, Any]:
        p = self.prefix
        return {
            f"{p}round": 0,
            f"{p}decision": None,
            f"{p}decided_round": None,
            f"{p}agreement": None,
            f"{p}concluded": False,
        }

    def builtins(self, scenario: Scenario, state: State) -> dict[str, Any]:
        world, p = state["world"], self.prefix
        return {
            "decision": world.get(f"{p}decision"),
            "decided_round": world.get(f"{p}decided_round"),
            "agreement": world.get(f"{p}agreement"),
            "concluded": bool(world.get(f"{p}concluded")),
        }

    def concluded(self, state: State) -> bool:
        return bool(state["world"].get(f"{self.prefix}concluded"))

    def next_round(self, state: State) -> int:
        round_ = state["world"].get(f"{self.prefix}round")
        return (round_ if isinstance(round_, int) else 0) + 1


#: Where weighted voting may take weights from besides declared ones, by name (a topology
#: package registers ``degree``): a function of the scenario to a weight per agent id.
WeightSource = Callable[["Scenario"], Mapping[str, float]]
WEIGHT_SOURCES: dict[str, WeightSource] = {}


def register_weights(name: str, source: WeightSource) -> None:
    """Make ``vote: {weights: <name>}`` take each voter's weight from ``source``."""
    WEIGHT_SOURCES[name] = source


_DEGREES: dict[int, tuple[Any, dict[str, float]]] = {}


def degree(scenario: Scenario) -> dict[str, float]:
    """Each agent's number of links in the scenario's topology (directed: how many hear it,
    its reach). Built once per scenario object; the topology is generated from its seed."""
    hit = _DEGREES.get(id(scenario))
    if hit is not None and hit[0] is scenario:
        return hit[1]
    from aegntix.swarm.topology import build  # at run time: swarm sits above mechanics

    topology = build(scenario)
    counts = {a.id: 0.0 for a in scenario.agents}
    for a, b in topology.edges:
        counts[a] += 1.0
        if not topology.directed:
            counts[b] += 1.0
    if len(_DEGREES) >= 256:
        _DEGREES.clear()
    _DEGREES[id(scenario)] = (scenario, counts)
    return counts


register_weights("degree", degree)
