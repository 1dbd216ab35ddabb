"""The ``organic`` injection: an in-world observation from a plausible source (a news item,
or a neighbour of the first hearers) that then spreads only along the topology.

The spread is a *planned schedule*, not agents choosing to repeat it: when the injection
lands, the strategy runs a breadth-first spread over the branch's recorded who-hears-whom
graph, starting at the seed agents (offset 0). An agent who first hears it at offset k
passes it to each out-neighbour at offset k + 1, each edge carrying it with probability
``p``, drawn once per edge from the branch seed and the landing step (so the spread is the
BFS of the "live" edges, order-independent and reproducible), up to ``max_steps``. The plan
is recorded as waves in the landing event, like ``gradual``, so a fork at any step inherits
the pending spread exactly (invariants 3, 4 and 5). On a mesh everyone is everyone's
neighbour: with ``p = 1`` it reaches every agent one step after the seeds.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aegntix.errors import InvalidRequest
from aegntix.inject.base import Hearing, Parameter, Spread, Wave
from aegntix.inject.kinds import MAX_SPREAD_STEPS, Gradual
from aegntix.model.scenario import Scenario

if TYPE_CHECKING:
    from aegntix.swarm.topology import Topology

NEWS = "news"
#: The default and longest spread: offsets 0 .. MAX_SPREAD_STEPS - 1.
MAX_HOPS = MAX_SPREAD_STEPS - 1


def _draw(*parts: object) -> float:
    """A uniform number in [0, 1) from the parts (the same on every run, replay and fork)."""
    raw = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big") / 2.0**64


def passes(seed: int, step: int, speaker: str, hearer: str, p: float) -> bool:
    """Whether the edge ``speaker -> hearer`` carries an organic injection landing at
    ``step`` in a branch seeded ``seed`` (drawn once per edge)."""
    return p >= 1.0 or _draw(seed, step, "inject/organic", speaker, hearer) < p


def everyone_else(scenario: Scenario) -> dict[str, frozenset[str]]:
    ids = [a.id for a in scenario.agents]
    return {a: frozenset(b for b in ids if b != a) for a in ids}


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _name(scenario: Scenario, agent_id: str) -> str:
    return next((a.name for a in scenario.agents if a.id == agent_id), agent_id)


class Organic(Gradual):
    name: str = "organic"
    description: str = (
        "an in-world observation from a plausible source (news, or a neighbour) heard by "
        "seed agents, then passed along the topology's edges one hop per step (planned from "
        "the recorded graph and the branch seed)"
    )
    parameters: tuple[Parameter, ...] = (
        Parameter(
            "targets",
            "agents",
            "the seed agents who hear it first (none: the source agent's neighbours, or one "
            "agent drawn from the branch seed for news)",
        ),
        # the fields of its ``schedule``, listed one by one (the UI offers each)
        Parameter(
            "schedule.source",
            "source",
            "where it comes from: 'news' (default) or 'agent:<id>', a neighbour of the first "
            "hearers",
        ),
        Parameter("schedule.p", "number", "the chance an edge passes it on (0..1, default 1)"),
        Parameter(
            "schedule.max_steps",
            "integer",
            f"how many hops it may spread after the first hearers (1..{MAX_HOPS}, default "
            f"{MAX_HOPS})",
        ),
    )

    def validate(
        self,
        scenario: Scenario,
        targets: Sequence[str] | None,
        schedule: Mapping[str, Any] | None,
        world: bool,
    ) -> dict[str, Any]:
        if world:
            raise InvalidRequest("world: only a broadcast injection may change world facts")
        schedule = dict(schedule or {})
        if extra := sorted(set(schedule) - {"source", "p", "max_steps"}):
            raise InvalidRequest(
                f"schedule.{extra[0]}: an organic injection takes source, p and max_steps"
            )
        source = schedule.get("source", NEWS)
        known = [a.id for a in scenario.agents]
        if not isinstance(source, str) or not (
            source == NEWS or (source.startswith("agent:") and source[6:] in known)
        ):
            raise InvalidRequest(
                f"schedule.source: '{source}' is not 'news' or agent:<id> of a known agent "
                f"({', '.join(sorted(known))})"
            )
        p = schedule.get("p", 1.0)
        if not isinstance(p, int | float) or isinstance(p, bool) or not 0.0 < p <= 1.0:
            raise InvalidRequest("schedule.p: a chance above 0 and at most 1")
        hops = schedule.get("max_steps", MAX_HOPS)
        if not _int(hops) or not 1 <= hops <= MAX_HOPS:
            raise InvalidRequest(f"schedule.max_steps: a whole number from 1 to {MAX_HOPS}")
        if targets and source != NEWS and source[6:] in targets:
            raise InvalidRequest("targets: the source agent cannot be one of the first hearers")
        return {"schedule": {"source": source, "p": float(p), "max_steps": hops}}

    def seeds(self, payload: Mapping[str, Any], spread: Spread) -> list[str]:
        """Who hears it first: the targets, else the source's neighbours, else one agent
        drawn from the branch seed (news, or a source nobody hears)."""
        if targets := payload.get("targets"):
            return sorted(targets)
        neighbours = spread.neighbours or everyone_else(spread.scenario)
        source = str(payload["schedule"]["source"])
        if source != NEWS and (heard := neighbours.get(source[6:])):
            return sorted(heard)
        pool = sorted(a.id for a in spread.scenario.agents if f"agent:{a.id}" != source)
        parts = f"{spread.seed}\x1f{spread.step}\x1finject/organic".encode()
        rng = random.Random(int.from_bytes(hashlib.blake2b(parts, digest_size=8).digest(), "big"))
        return [rng.choice(pool)]

    def passers(self, payload: Mapping[str, Any], spread: Spread) -> list[tuple[int, str, str]]:
        """(offset, hearer, who told it) for every agent reached, in order; the first
        hearers were told by the source. Ties go to the teller first in file order."""
        neighbours = spread.neighbours or everyone_else(spread.scenario)
        schedule = payload["schedule"]
        p, hops = float(schedule["p"]), int(schedule["max_steps"])
        order = {a.id: i for i, a in enumerate(spread.scenario.agents)}
        source = str(schedule["source"])
        reached = [(0, s, source) for s in self.seeds(payload, spread)]
        heard = {s for _, s, _ in reached}
        if source != NEWS:
            heard.add(source[6:])  # the source knows it already: it is never told
        frontier = sorted((s for _, s, _ in reached), key=order.__getitem__)
        for offset in range(1, hops + 1):
            told: dict[str, str] = {}
            for speaker in frontier:
                for hearer in sorted(neighbours.get(speaker, ()), key=order.__getitem__):
                    if hearer in heard or hearer in told:
                        continue
                    if passes(spread.seed, spread.step, speaker, hearer, p):
                        told[hearer] = speaker
            if not told:
                break
            reached += [(offset, h, told[h]) for h in sorted(told, key=order.__getitem__)]
            heard |= set(told)
            frontier = sorted(told, key=order.__getitem__)
        return reached

    def plan(self, payload: Mapping[str, Any], spread: Spread) -> tuple[Wave, ...]:
        by: dict[int, list[str]] = {}
        for offset, hearer, _ in self.passers(payload, spread):
            by.setdefault(offset, []).append(hearer)
        return tuple(Wave(o, tuple(sorted(agents))) for o, agents in sorted(by.items()))

    def record(self, payload: Mapping[str, Any], spread: Spread) -> dict[str, Any]:
        """The waves as heard: one per (offset, teller), each with the text its hearers
        observe (a news item, or what the teller said)."""
        waves: dict[tuple[int, str], list[str]] = {}
        for offset, hearer, teller in self.passers(payload, spread):
            waves.setdefault((offset, teller), []).append(hearer)
        content = str(payload["content"])
        return {
            **payload,
            "told": content,
            "content": self._framed(spread.scenario, payload["schedule"]["source"], content),
            "waves": [
                {
                    "offset": o,
                    "agents": sorted(agents),
                    "via": teller,
                    "content": self._framed(spread.scenario, teller, content, relayed=o > 0),
                }
                for (o, teller), agents in waves.items()
            ],
        }

    @staticmethod
    def _framed(scenario: Scenario, source: str, content: str, *, relayed: bool = False) -> str:
        if source == NEWS:
            return f"In the news: {content}"
        who = _name(scenario, source.removeprefix("agent:"))
        return f"{who} {'passes on' if relayed else 'mentions'}: {content}"

    def hearing(self, payload: Mapping[str, Any], step: int) -> Hearing:
        if "wave" in payload:  # a materialized wave: heard by its targets
            return Hearing(frozenset(payload.get("targets") or ()), False)
        first = [a for w in payload.get("waves") or () if w.get("offset") == 0 for a in w["agents"]]
        return Hearing(frozenset(first), False)

    def due(
        self, payload: Mapping[str, Any], seq: int, landed: int, step: int
    ) -> list[dict[str, Any]]:
        offset = step - landed
        if offset <= 0 or "wave" in payload:
            return []
        return [
            {
                "content": w.get("content", payload.get("content", "")),
                "strategy": self.name,
                "targets": list(w["agents"]),
                "urgency": payload.get("urgency"),
                "fields": dict(payload.get("fields") or {}),
                "wave": {"of": seq, "offset": offset, "via": w.get("via")},
            }
            for w in payload.get("waves") or ()
            if w.get("offset") == offset
        ]


def neighbours_of(topology: Topology) -> dict[str, frozenset[str]] | None:
    """``Spread.neighbours`` from a ``swarm.topology.Topology`` (speaker -> who hears it);
    ``None`` for a mesh (everyone hears everyone)."""
    if topology.is_mesh:
        return None
    out: dict[str, set[str]] = {n: set() for n in topology.nodes}
    for a, b in topology.edges:
        out[a].add(b)
        if not topology.directed:
            out[b].add(a)
    return {k: frozenset(v) for k, v in out.items()}
