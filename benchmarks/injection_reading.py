"""How well the rules brain reads plain-language injections: direction accuracy on a labelled
set (``benchmarks/data/injections.yaml``), the word lists alone against arguments + embedder,
and the reading latency per injection per agent.

A label is +1, -1 or 0 per side (see the data file); a reading counts as 0 when it would not
move the agent (``Reading.effective`` false). Prints a table and one JSON line
``{"bench": "injection_reading", ...}``.

    .venv/bin/python benchmarks/injection_reading.py
    .venv/bin/python benchmarks/injection_reading.py --quick   # fewer latency samples
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from aegntix.brains.rules import reading
from aegntix.inject.preview import mechanic_of
from aegntix.memory.embedding import embedder_for
from aegntix.model.loading import load_scenario
from aegntix.model.scenario import AgentSpec, Scenario

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data" / "injections.yaml"
#: The word lists read a direction when |direction| reaches this (as the brain's no-effect).
LEXICON_THRESHOLD = 2 * reading.NO_EFFECT


def _sign(value: float, threshold: float) -> int:
    return 0 if abs(value) < threshold else (1 if value > 0 else -1)


def _reader(scenario: Scenario, side: str) -> AgentSpec:
    """The agent whose reading a label is about: the named one, or (``all``) the first agent
    that reads against arguments."""
    if side != "all":
        return scenario.agent(side)
    return next(a for a in scenario.agents if scenario.arguments_for(a) is not None)


def evaluate(path: Path = DATA) -> dict[str, Any]:
    """Accuracy (overall and per scenario) of the lexicon-only and the full reading."""
    data = yaml.safe_load(path.read_text())
    scenarios = {k: load_scenario(ROOT / v) for k, v in data["scenarios"].items()}
    hits: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"lexicon": [], "reading": []})
    misses: list[dict[str, Any]] = []
    for item in data["items"]:
        scenario = scenarios[item["scenario"]]
        for side, expected in item["expect"].items():
            agent = _reader(scenario, side)
            mechanic = mechanic_of(agent)
            lex = _sign(reading.lexicon_direction(item["text"], mechanic), LEXICON_THRESHOLD)
            got = reading.read(item["text"], agent, scenario.arguments_for(agent), mechanic)
            full = 0 if not got.effective else (1 if got.direction > 0 else -1)
            keys = [item["scenario"], "all"] + (["held-out"] if item.get("holdout") else [])
            for key in keys:
                hits[key]["lexicon"].append(int(lex == expected))
                hits[key]["reading"].append(int(full == expected))
            if full != expected:
                misses.append(
                    {"text": item["text"], "side": side, "expected": expected, "got": got.json()}
                )
    accuracy = {
        key: {kind: round(sum(v) / len(v), 4) for kind, v in by.items()} | {"n": len(by["lexicon"])}
        for key, by in hits.items()
    }
    return {"accuracy": accuracy, "misses": misses, "items": len(data["items"])}


def latency(samples: int) -> dict[str, float]:
    """Reading one new injection for one agent (embedding the text included; the scenario's
    arguments are embedded once, as in a run), and a repeat read (cached)."""
    scenario = load_scenario(ROOT / "examples" / "town-hall.yaml")
    agent = scenario.agents[0]
    args = scenario.arguments_for(agent)
    reading.read("warm-up text about the barrier", agent, args, "opinion")
    cold: list[float] = []
    for i in range(samples):
        text = f"Report {i}: the river rose {i % 7} metres and the council says costs rose too."
        start = time.perf_counter()
        reading.read(text, agent, args, "opinion")
        cold.append(time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(samples):
        reading.read(text, agent, args, "opinion")
    warm = (time.perf_counter() - start) / samples
    cold.sort()
    return {
        "new_text_p50_ms": round(cold[len(cold) // 2] * 1000, 4),
        "new_text_p99_ms": round(cold[min(len(cold) - 1, int(0.99 * len(cold)))] * 1000, 4),
        "cached_ms": round(warm * 1000, 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer latency samples")
    parser.add_argument("--misses", action="store_true", help="list the misreadings")
    parser.add_argument(
        "--embedder", help="read with this embedder instead of the default (e.g. 'hash')"
    )
    args = parser.parse_args()
    if args.embedder:
        chosen = embedder_for(args.embedder)
        reading.embedder = lambda: chosen  # type: ignore[assignment]
    result = evaluate()
    timing = latency(200 if args.quick else 2000)
    embedder = reading.embedder().name
    print(f"injection reading — {result['items']} injections, embedder {embedder}")
    print(f"{'set':<20}{'labels':>8}{'word lists':>12}{'arguments+embedder':>20}")
    order = {"held-out": 1, "all": 2}
    for key, acc in sorted(result["accuracy"].items(), key=lambda kv: order.get(kv[0], 0)):
        print(f"{key:<20}{acc['n']:>8}{acc['lexicon']:>12.1%}{acc['reading']:>20.1%}")
    print(
        f"latency per injection per agent: new text p50 {timing['new_text_p50_ms']:.3f} ms,"
        f" p99 {timing['new_text_p99_ms']:.3f} ms; cached {timing['cached_ms']:.4f} ms"
    )
    if args.misses:
        for miss in result["misses"]:
            got = miss["got"]
            print(
                f"  miss [{miss['side']}] expected {miss['expected']:+d} got "
                f"{got['direction']:+.2f} (w {got['weight']:.2f}) {miss['text'][:70]!r} — "
                f"{got['reason']}"
            )
    line = {
        "bench": "injection_reading",
        "embedder": embedder,
        "items": result["items"],
        "accuracy": result["accuracy"],
        **timing,
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
