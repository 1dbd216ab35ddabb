"""The scenario's ``topology:`` — who hears whom (the graph itself is built by
``aegntix.swarm.topology``). Field types here; the checks that need the cast (unknown agent
ids, ``k`` against the number of agents, cycles in a hierarchy) in :func:`topology_problems`,
called with the scenario's other cross-field checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Loc = tuple[str | int, ...]
AgentId = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
Edge = tuple[AgentId, AgentId]

TopologyKind = Literal[
    "mesh", "ring", "star", "hierarchy", "small_world", "scale_free", "groups", "edges"
]
KINDS: tuple[str, ...] = TopologyKind.__args__  # type: ignore[attr-defined]

#: Which kinds each optional field applies to (``edges`` adds to any kind but mesh).
_APPLIES: dict[str, frozenset[str]] = {
    "k": frozenset({"small_world"}),
    "p": frozenset({"small_world"}),
    "m": frozenset({"scale_free"}),
    "hub": frozenset({"star"}),
    "branching": frozenset({"hierarchy"}),
    "reports_to": frozenset({"hierarchy"}),
    "groups": frozenset({"groups"}),
    "bridges": frozenset({"groups"}),
    "edges": frozenset(KINDS) - {"mesh"},
}

MAX_EDGES = 100_000


class TopologySpec(BaseModel):
    """``mesh`` (everyone hears everyone: the default), ``ring``, ``star`` (around ``hub``),
    ``hierarchy`` (a tree: ``reports_to``, else ``branching`` in file order), ``small_world``
    (Watts–Strogatz: ``k`` neighbours, rewired with probability ``p``), ``scale_free``
    (Barabási–Albert: ``m`` links per newcomer), ``groups`` (named groups hear each other;
    ``bridges`` join agents across them) or ``edges`` (exactly the listed ones). ``edges``
    adds links to any kind but mesh. Directed: an edge ``[a, b]`` means b hears a and a may
    address b. The graph is generated from ``seed`` (default: the scenario's seed)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    kind: TopologyKind = "mesh"
    directed: bool = False
    seed: int | None = Field(default=None, ge=0, lt=2**63)
    k: int | None = Field(default=None, ge=2, le=1000)
    p: float | None = Field(default=None, ge=0.0, le=1.0)
    m: int | None = Field(default=None, ge=1, le=1000)
    hub: AgentId | None = None
    branching: int | None = Field(default=None, ge=1, le=1000)
    reports_to: dict[AgentId, AgentId] = Field(default_factory=dict)
    groups: dict[AgentId, list[AgentId]] = Field(default_factory=dict, max_length=1000)
    bridges: list[Edge] = Field(default_factory=list, max_length=MAX_EDGES)
    edges: list[Edge] = Field(default_factory=list, max_length=MAX_EDGES)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value

    @property
    def is_mesh(self) -> bool:
        return self.kind == "mesh"


def topology_problems(spec: TopologySpec, agent_ids: Sequence[str]) -> list[tuple[Loc, str]]:
    """Every problem of ``spec`` for this cast, each with its field path."""
    found: list[tuple[Loc, str]] = []
    known = set(agent_ids)
    n = len(agent_ids)
    for name in sorted(spec.model_fields_set & set(_APPLIES)):
        # a field at its default says nothing (a dumped spec, read back, carries them all)
        unused = getattr(spec, name) != TopologySpec.model_fields[name].get_default(
            call_default_factory=True
        )
        if unused and spec.kind not in _APPLIES[name]:
            kinds = ", ".join(sorted(_APPLIES[name]))
            why = "mesh already joins everyone" if spec.kind == "mesh" else f"it is for {kinds}"
            found.append((("topology", name), f"not used by kind '{spec.kind}': {why}"))

    def agent(loc: Loc, agent_id: str) -> None:
        if agent_id not in known:
            found.append((loc, f"unknown agent id '{agent_id}'"))

    def pairs(field: str, edges: Sequence[tuple[str, str]]) -> None:
        for i, (a, b) in enumerate(edges):
            agent(("topology", field, i, 0), a)
            agent(("topology", field, i, 1), b)
            if a == b:
                found.append(
                    (("topology", field, i), f"an edge joins two agents, not '{a}' to itself")
                )

    pairs("edges", spec.edges)
    pairs("bridges", spec.bridges)
    if spec.kind == "edges" and not spec.edges:
        found.append((("topology", "edges"), "kind 'edges' needs at least one edge"))
    if spec.kind == "small_world":
        k = 4 if spec.k is None else spec.k
        if k >= n:
            found.append((("topology", "k"), f"k ({k}) must be below the number of agents ({n})"))
    if spec.kind == "scale_free":
        m = 2 if spec.m is None else spec.m
        if m >= n:
            found.append((("topology", "m"), f"m ({m}) must be below the number of agents ({n})"))
    if spec.hub is not None:
        agent(("topology", "hub"), spec.hub)
    if spec.kind == "groups":
        found.extend(_group_problems(spec, agent_ids, agent))
    if spec.reports_to:
        found.extend(_hierarchy_problems(spec.reports_to, agent_ids, agent))
    return found


def _group_problems(
    spec: TopologySpec, agent_ids: Sequence[str], agent: Any
) -> list[tuple[Loc, str]]:
    found: list[tuple[Loc, str]] = []
    if not spec.groups:
        return [(("topology", "groups"), "kind 'groups' needs at least one named group")]
    member: set[str] = set()
    for name, members in spec.groups.items():
        if not members:
            found.append((("topology", "groups", name), "a group needs at least one agent"))
        for j, agent_id in enumerate(members):
            agent(("topology", "groups", name, j), agent_id)
            member.add(agent_id)
    alone = [a for a in agent_ids if a not in member]
    if alone:
        shown = ", ".join(alone[:5]) + (f" and {len(alone) - 5} more" if len(alone) > 5 else "")
        found.append((("topology", "groups"), f"every agent needs a group; none for {shown}"))
    return found


def _hierarchy_problems(
    reports_to: dict[str, str], agent_ids: Sequence[str], agent: Any
) -> list[tuple[Loc, str]]:
    found: list[tuple[Loc, str]] = []
    for child, boss in reports_to.items():
        agent(("topology", "reports_to", child), child)
        agent(("topology", "reports_to", child), boss)
        if child == boss:
            found.append((("topology", "reports_to", child), "an agent cannot report to itself"))
    if found:
        return found
    tops = [a for a in agent_ids if a not in reports_to]
    if len(tops) != 1:
        shown = ", ".join(tops[:5]) or "none"
        found.append(
            (
                ("topology", "reports_to"),
                f"a hierarchy has one top; found {len(tops)} ({shown}): every other agent "
                "needs reports_to",
            )
        )
    for start, boss in reports_to.items():
        seen = {start}
        at = boss
        while at in reports_to:
            if at in seen:
                found.append(
                    (("topology", "reports_to", start), f"a reporting cycle through '{at}'")
                )
                return found
            seen.add(at)
            at = reports_to[at]
    return found
