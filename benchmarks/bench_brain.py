"""Rules-brain decision latency: p50/p99/max per mode over realistic observations.

Eight agents, a window of ~20 visible events (messages with offers or stances, actions,
injections), observations built the way the engine builds them (read-only mappings). Each
decision gets a fresh ``random.Random`` made outside the timed region, as the engine's
``rng_for`` does. Prints a table and one JSON line ``{"bench": "rules_brain", ...}``.

    .venv/bin/python benchmarks/bench_brain.py           # 30,000 decisions
    .venv/bin/python benchmarks/bench_brain.py --quick   # 3,000
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from aegntix.brains.base import Observation, VisibleEvent
from aegntix.brains.rules import RulesBrain, mode
from aegntix.model.scenario import ActionSpec, AgentSpec

N_AGENTS = 8
WINDOW = 20
TARGET_P99_MS = 0.5
NAMES = [
    "Sam Ortega",
    "Dana Whitfield",
    "Lee Park",
    "Ana Ruiz",
    "Tom Reyes",
    "Mei Chen",
    "Omar Haddad",
    "Ruth Okafor",
]
NEWS = [
    "Breaking: the board set a hard deadline, close this week or walk away.",
    "Analysts report strong demand and other buyers circling.",
    "An independent study finds the barrier is safe, saves homes and creates jobs.",
    "Engineers warn the barrier could fail and the cost will double, raising debt.",
    "Forensics: the attacker still has domain admin and is spreading laterally.",
    "Legal reminds everyone of the 72-hour regulator notification duty.",
]
TALK = [
    "I hear you, but that number doesn't work for us.",
    "Flooding will cost us millions every year if we wait.",
    "We should restore from backup as soon as containment holds.",
    "My constituents will not accept a tax rise for this.",
    "Let's meet somewhere in the middle and move on.",
]


def agent(i: int, rng: random.Random, **spec: Any) -> AgentSpec:
    persona = {
        k: round(rng.random(), 2)
        for k in ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
    }
    return AgentSpec.model_validate(
        {
            "id": f"a{i}",
            "name": NAMES[i],
            "role": spec.pop("role", "resident"),
            "goals": [spec.pop("goal", "keep costs down for everyone")],
            "persona": persona,
            **spec,
        }
    )


def window(
    rng: random.Random,
    step: int,
    ids: list[str],
    field: Callable[[], dict[str, Any]],
    action_names: list[str] | None = None,
) -> tuple[VisibleEvent, ...]:
    events = []
    for seq in range(WINDOW):
        at = max(1, step - 2 + seq * 3 // WINDOW)
        roll = rng.random()
        if roll < 0.15:
            events.append(
                VisibleEvent(seq, at, "injection", None, rng.choice(NEWS), MappingProxyType({}))
            )
        elif action_names and roll < 0.45:
            act = rng.choice(action_names)
            text = f"Doing {act} ({rng.randrange(10**6)})."
            events.append(
                VisibleEvent(
                    seq, at, "action", rng.choice(ids), text, MappingProxyType({"action": act})
                )
            )
        else:
            to = (rng.choice(ids),) if rng.random() < 0.2 else None
            text = f"{rng.choice(TALK)} ({rng.randrange(10**6)})"  # unique, like real talk
            events.append(
                VisibleEvent(
                    seq, at, "message", rng.choice(ids), text, MappingProxyType(field()), to
                )
            )
    return tuple(events)


def observation(
    me: AgentSpec,
    cast: list[AgentSpec],
    step: int,
    states: dict[str, dict[str, Any]],
    world: dict[str, Any],
    visible: tuple[VisibleEvent, ...],
    actions: dict[str, ActionSpec] | None = None,
) -> Observation:
    stances = [s["stance"] for s in states.values() if s["stance"] is not None]
    names = dict(
        world,
        step=step,
        max_steps=20,
        n_agents=len(cast),
        mean_stance=statistics.fmean(stances) if stances else 0.0,
        min_stance=min(stances, default=0.0),
        max_stance=max(stances, default=0.0),
        stance_spread=(max(stances) - min(stances)) if stances else 0.0,
    )
    return Observation(
        scenario="bench",
        topic="the riverside park plan",
        step=step,
        max_steps=20,
        agent=me,
        own=MappingProxyType(states[me.id]),
        world=MappingProxyType(names),
        others=MappingProxyType(
            {a.id: MappingProxyType(states[a.id]) for a in cast if a is not me}
        ),
        roster=MappingProxyType({a.id: a for a in cast}),
        visible=visible,
        actions=MappingProxyType(actions or {}),
    )


def standing(side: str, step: int, rng: random.Random) -> float:
    """An offer where a party would be at ``step``: sellers come down, buyers go up."""
    drift = 120.0 * step
    low, high = {
        "sell": (17000 - drift, 18000 - drift),
        "buy": (11000 + drift, 12000 + drift),
        "mediate": (14000, 15000),
    }[side]
    return round(rng.uniform(low, high), 2)


def negotiation_cases(rng: random.Random, steps: int) -> list[Observation]:
    sides = ["sell", "buy", "mediate"] + [rng.choice(["sell", "buy"]) for _ in range(5)]
    terms = {
        "sell": {"side": "sell", "reservation": 13500, "target": 18000},
        "buy": {"side": "buy", "reservation": 16500, "target": 11000},
        "mediate": {"side": "mediate"},
    }
    cast = [agent(i, rng, role=s, negotiation=terms[s]) for i, s in enumerate(sides)]
    ids = [a.id for a in cast]
    cases = []
    for k in range(steps):
        step = 1 + k % 20
        states = {
            a.id: {"stance": None, "offer": standing(side, step, rng)}
            for a, side in zip(cast, sides, strict=True)
        }
        visible = window(
            rng, step, ids, lambda at=step: {"offer": standing(rng.choice(sides), at, rng)}
        )
        world = {"deal_reached": False, "price": None, "list_price": 18000}
        cases.extend(observation(a, cast, step, states, world, visible) for a in cast)
    return cases


def opinion_cases(rng: random.Random, steps: int) -> list[Observation]:
    cast = [agent(i, rng, stance=round(rng.uniform(-1, 1), 2)) for i in range(N_AGENTS)]
    ids = [a.id for a in cast]
    cases = []
    for k in range(steps):
        step = 1 + k % 20
        states = {a.id: {"stance": round(rng.uniform(-1, 1), 3), "offer": None} for a in cast}
        visible = window(rng, step, ids, lambda: {"stance": round(rng.uniform(-1, 1), 3)})
        cases.extend(observation(a, cast, step, states, {"budget": 1e6}, visible) for a in cast)
    return cases


ACTIONS = {
    "isolate_hosts": ActionSpec(
        description="cut infected hosts off the network",
        effects={
            "containment": "min(1, containment + 0.3)",
            "systems_restored": "max(0, systems_restored - 0.05)",
        },
        keywords=["isolate", "quarantine", "contain", "spread", "lateral"],
    ),
    "rotate_credentials": ActionSpec(
        description="reset admin and service credentials",
        effects={"containment": "min(1, containment + 0.15 + 0.15 * evidence)"},
        keywords=["credentials", "password", "admin", "domain"],
    ),
    "forensics": ActionSpec(
        description="collect and analyse evidence",
        effects={"evidence": "min(1, evidence + 0.3)"},
        keywords=["forensics", "evidence", "logs"],
    ),
    "restore_backups": ActionSpec(
        description="restore systems from clean backups",
        effects={"systems_restored": "min(1, systems_restored + 0.1 + 0.3 * containment)"},
        keywords=["restore", "backup", "recover", "service"],
    ),
    "notify_regulator": ActionSpec(
        description="file the breach notification",
        effects={"regulator_notified": "true"},
        keywords=["regulator", "legal", "72-hour"],
    ),
}
OBJECTIVES = [
    "60 * containment + 40 * systems_restored - customer_impact",
    "100 * containment + 30 * evidence - 50 * data_exfiltrated",
    "100 * systems_restored - customer_impact",
    "40 * regulator_notified + 20 * evidence",
]


def incident_cases(rng: random.Random, steps: int) -> list[Observation]:
    names = list(ACTIONS)
    cast = [
        agent(
            i,
            rng,
            role="responder",
            actions=rng.sample(names, 3),
            objective=OBJECTIVES[i % 4],
            goal="contain the incident",
        )
        for i in range(N_AGENTS)
    ]
    ids = [a.id for a in cast]
    cases = []
    for k in range(steps):
        step = 1 + k % 20
        world = {
            "severity": 0.6,
            "containment": rng.random() * 0.8,
            "systems_restored": rng.random(),
            "evidence": rng.random(),
            "data_exfiltrated": 0.1,
            "customer_impact": rng.random() * 5,
            "regulator_notified": False,
            "_actions_taken": {},
        }
        states = {a.id: {"stance": None, "offer": None} for a in cast}
        visible = window(rng, step, ids, dict, names)
        cases.extend(
            observation(a, cast, step, states, world, visible, {n: ACTIONS[n] for n in a.actions})
            for a in cast
        )
    return cases


def percentile(sorted_ns: list[int], q: float) -> float:
    index = min(len(sorted_ns) - 1, max(0, round(q * (len(sorted_ns) - 1))))
    return sorted_ns[index] / 1e6


def run(decisions: int, seed: int) -> dict[str, Any]:
    """Every observation is new (a fresh window of unique messages per step, seen by all
    eight agents) and decided once, in step order, as in a run."""
    rng = random.Random(seed)
    brain = RulesBrain()
    builders = {
        "negotiation": negotiation_cases,
        "opinion": opinion_cases,
        "incident": incident_cases,
    }
    steps = max(1, decisions // len(builders) // N_AGENTS)
    # warm up the interpreter and the expression compiler on a separate sample (not timed)
    for build in builders.values():
        for i, obs in enumerate(build(random.Random(seed + 1), 20)):
            brain.decide_now(obs, random.Random(i))
    results: dict[str, Any] = {}
    everything: list[int] = []
    for name, build in builders.items():
        cases = build(rng, steps)
        assert all(mode(c) == name for c in cases), name
        rngs = [random.Random(i) for i in range(len(cases))]
        timings: list[int] = []
        gc.collect()
        for obs, draw in zip(cases, rngs, strict=True):
            start = time.perf_counter_ns()
            brain.decide_now(obs, draw)
            timings.append(time.perf_counter_ns() - start)
        timings.sort()
        everything.extend(timings)
        results[name] = summary(timings)
    everything.sort()
    results["all"] = summary(everything)
    return results


def summary(sorted_ns: list[int]) -> dict[str, Any]:
    return {
        "n": len(sorted_ns),
        "p50_ms": round(percentile(sorted_ns, 0.50), 4),
        "p99_ms": round(percentile(sorted_ns, 0.99), 4),
        "max_ms": round(sorted_ns[-1] / 1e6, 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,000 decisions instead of 30,000")
    parser.add_argument("--decisions", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    decisions = args.decisions or (3_000 if args.quick else 30_000)
    results = run(decisions, args.seed)
    print(f"{'mode':<12} {'n':>7} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    for name, row in results.items():
        print(
            f"{name:<12} {row['n']:>7} {row['p50_ms']:>9.4f} {row['p99_ms']:>9.4f} "
            f"{row['max_ms']:>9.4f}"
        )
    overall = results["all"]
    line = {
        "bench": "rules_brain",
        "decisions": overall["n"],
        "agents": N_AGENTS,
        "window": WINDOW,
        "p50_ms": overall["p50_ms"],
        "p99_ms": overall["p99_ms"],
        "max_ms": overall["max_ms"],
        "modes": {k: v for k, v in results.items() if k != "all"},
        "target_p99_ms": TARGET_P99_MS,
        "ok": overall["p99_ms"] < TARGET_P99_MS,
        "python": platform.python_version(),
    }
    print(json.dumps(line, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
