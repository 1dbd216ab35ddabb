"""The injection strategies: ``direct``, ``broadcast`` and ``gradual``.

``direct`` and ``broadcast`` land whole at one step and record exactly the payload they
recorded before strategies were objects (old timelines keep their hashes). ``gradual``
records its plan (``waves``) in the landing event; each later wave is materialized as an
injection event of its own at its step, before agents decide, naming the event it comes
from (``wave.of``).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from aegntix.errors import InvalidRequest
from aegntix.inject.base import Hearing, Parameter, Spread, Wave
from aegntix.model.scenario import Scenario

#: The longest a gradual spread may last (offsets 0 .. MAX_SPREAD_STEPS - 1).
MAX_SPREAD_STEPS = 20

_TARGETS = Parameter("targets", "agents", "agent ids to reach (none: every agent)")


def _no_schedule(name: str, schedule: Mapping[str, Any] | None) -> None:
    if schedule is not None:
        raise InvalidRequest(f"schedule: only a gradual injection takes a schedule, not {name}")


class _AtOnce:
    """What a strategy that lands whole at one step shares: its payload is recorded as it
    is, and nothing is pending after it."""

    def record(self, payload: Mapping[str, Any], spread: Spread) -> dict[str, Any]:
        return dict(payload)

    def span(self, payload: Mapping[str, Any]) -> int:
        return 0

    def due(
        self, payload: Mapping[str, Any], seq: int, landed: int, step: int
    ) -> list[dict[str, Any]]:
        return []


class Direct(_AtOnce):
    name: str = "direct"
    description: str = "a private message to the target agents, heard at once"
    parameters: tuple[Parameter, ...] = (
        Parameter("targets", "agents", "agent ids told privately", required=True),
    )

    def validate(
        self,
        scenario: Scenario,
        targets: Sequence[str] | None,
        schedule: Mapping[str, Any] | None,
        world: bool,
    ) -> dict[str, Any]:
        _no_schedule(self.name, schedule)
        if not targets:
            raise InvalidRequest("targets: a direct injection needs at least one target agent")
        if world:
            raise InvalidRequest("world: only a broadcast injection may change world facts")
        return {}

    def plan(self, payload: Mapping[str, Any], spread: Spread) -> tuple[Wave, ...]:
        return (Wave(0, tuple(payload.get("targets") or ()) or None),)

    def hearing(self, payload: Mapping[str, Any], step: int) -> Hearing:
        targets = payload.get("targets")
        return Hearing(frozenset(targets), True) if targets else Hearing(None, False)


class Broadcast(_AtOnce):
    name: str = "broadcast"
    description: str = "news every agent observes at once; may change world facts"
    parameters: tuple[Parameter, ...] = (
        Parameter("world", "object", "world facts to set (keys of the scenario)"),
    )

    def validate(
        self,
        scenario: Scenario,
        targets: Sequence[str] | None,
        schedule: Mapping[str, Any] | None,
        world: bool,
    ) -> dict[str, Any]:
        _no_schedule(self.name, schedule)
        return {}

    def plan(self, payload: Mapping[str, Any], spread: Spread) -> tuple[Wave, ...]:
        return (Wave(0, None),)

    def hearing(self, payload: Mapping[str, Any], step: int) -> Hearing:
        return Hearing(None, False)


def _seeded(seed: int, step: int) -> random.Random:
    # the same derivation as engine.seeding (not imported: the engine imports this package)
    parts = f"{seed}\x1f{step}\x1finject/gradual".encode()
    return random.Random(int.from_bytes(hashlib.blake2b(parts, digest_size=8).digest(), "big"))


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Gradual:
    name: str = "gradual"
    description: str = (
        "news that reaches a growing share of the targets over k steps (or an explicit "
        "list of waves); the order is drawn from the branch seed"
    )
    parameters: tuple[Parameter, ...] = (
        _TARGETS,
        Parameter(
            "schedule",
            "object",
            f"{{steps: k}} (1..{MAX_SPREAD_STEPS}): after step i, (i+1)/k of the targets "
            "have heard it; or {waves: [{offset, agents}]}: who hears it how many steps "
            "after it lands",
            required=True,
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
        if not isinstance(schedule, Mapping) or set(schedule) not in ({"steps"}, {"waves"}):
            raise InvalidRequest(
                "schedule: a gradual injection needs a schedule: {steps: k} or "
                "{waves: [{offset, agents}, ...]}"
            )
        if "steps" in schedule:
            steps = schedule["steps"]
            if not _int(steps) or not 1 <= steps <= MAX_SPREAD_STEPS:
                raise InvalidRequest(
                    f"schedule.steps: must be a whole number from 1 to {MAX_SPREAD_STEPS}"
                )
            return {"schedule": {"steps": steps}}
        return {"schedule": {"waves": _checked_waves(scenario, targets, schedule["waves"])}}

    def plan(self, payload: Mapping[str, Any], spread: Spread) -> tuple[Wave, ...]:
        schedule = payload["schedule"]
        if "waves" in schedule:
            return tuple(Wave(w["offset"], tuple(w["agents"])) for w in schedule["waves"])
        pool = list(payload.get("targets") or sorted(a.id for a in spread.scenario.agents))
        _seeded(spread.seed, spread.step).shuffle(pool)
        steps, n = int(schedule["steps"]), len(pool)
        waves = []
        for i in range(steps):
            agents = pool[math.ceil(n * i / steps) : math.ceil(n * (i + 1) / steps)]
            if agents:
                waves.append(Wave(i, tuple(sorted(agents))))
        return tuple(waves)

    def record(self, payload: Mapping[str, Any], spread: Spread) -> dict[str, Any]:
        return {**payload, "waves": [w.json() for w in self.plan(payload, spread)]}

    def hearing(self, payload: Mapping[str, Any], step: int) -> Hearing:
        if "wave" in payload:  # a materialized wave: heard by its targets
            return Hearing(frozenset(payload.get("targets") or ()), False)
        first = [w for w in payload.get("waves") or () if w.get("offset") == 0]
        return Hearing(frozenset(first[0]["agents"] if first else ()), False)

    def span(self, payload: Mapping[str, Any]) -> int:
        if "wave" in payload:
            return 0
        return max((int(w.get("offset", 0)) for w in payload.get("waves") or ()), default=0)

    def due(
        self, payload: Mapping[str, Any], seq: int, landed: int, step: int
    ) -> list[dict[str, Any]]:
        offset = step - landed
        if offset <= 0 or "wave" in payload:
            return []
        return [
            {
                "content": payload.get("content", ""),
                "strategy": self.name,
                "targets": list(w["agents"]),
                "urgency": payload.get("urgency"),
                "fields": dict(payload.get("fields") or {}),
                "wave": {"of": seq, "offset": offset},
            }
            for w in payload.get("waves") or ()
            if w.get("offset") == offset
        ]


def _checked_waves(
    scenario: Scenario, targets: Sequence[str] | None, waves: Any
) -> list[dict[str, Any]]:
    """Explicit waves: offsets rising from 0.., known agents, each agent in one wave only."""
    if not isinstance(waves, list) or not 1 <= len(waves) <= MAX_SPREAD_STEPS:
        raise InvalidRequest(f"schedule.waves: a list of 1 to {MAX_SPREAD_STEPS} waves")
    known = {a.id for a in scenario.agents}
    allowed = set(targets) if targets else known
    seen: set[str] = set()
    checked, last = [], -1
    for i, wave in enumerate(waves):
        where = f"schedule.waves.{i}"
        if not isinstance(wave, Mapping) or set(wave) != {"offset", "agents"}:
            raise InvalidRequest(f"{where}: a wave is {{offset, agents}}")
        offset, agents = wave["offset"], wave["agents"]
        if not _int(offset) or not last < offset < MAX_SPREAD_STEPS:
            raise InvalidRequest(
                f"{where}.offset: whole numbers rising from 0, below {MAX_SPREAD_STEPS}"
            )
        if (
            not isinstance(agents, list)
            or not agents
            or not all(isinstance(a, str) for a in agents)
        ):
            raise InvalidRequest(f"{where}.agents: a non-empty list of agent ids")
        if bad := sorted(set(agents) - allowed):
            among = "targets" if targets else "agents"
            raise InvalidRequest(
                f"{where}.agents: {', '.join(bad)} not among the {among} "
                f"({', '.join(sorted(allowed))})"
            )
        if again := sorted(seen & set(agents)):
            raise InvalidRequest(f"{where}.agents: {', '.join(again)} already in an earlier wave")
        seen |= set(agents)
        checked.append({"offset": offset, "agents": sorted(set(agents))})
        last = offset
    return checked
