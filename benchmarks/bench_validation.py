"""What validation costs: parsing and checking scenarios (an example, a ~1 MB file as YAML and
as JSON, hostile documents nested 20,000 deep), the JSON depth scan every JSON request body
goes through, and expression evaluation with its bounds.

Prints a table and one JSON line ``{"bench": "validation", ...}``.

    .venv/bin/python benchmarks/bench_validation.py           # 20 rounds each
    .venv/bin/python benchmarks/bench_validation.py --quick   # 5 rounds each
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from _common import emit, parse_args, percentiles_ms, table
from aegntix.errors import ScenarioInvalid
from aegntix.model.expressions import evaluate
from aegntix.model.loading import parse_scenario
from aegntix.model.parsing import json_too_deep

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _big_scenario() -> dict[str, object]:
    """~1 MB: 750 agents with long backstories and a large world."""
    data = yaml.safe_load((EXAMPLES / "town-hall.yaml").read_text(encoding="utf-8"))
    template = data["agents"][0]
    data["agents"] = [
        {**template, "id": f"a{i}", "name": f"Agent {i}", "backstory": "Lives nearby. " * 60}
        for i in range(750)
    ]
    data["world"] = {**data.get("world", {}), **{f"k{i}": i * 1.5 for i in range(2000)}}
    return data


def _time(fn: Callable[[], object], rounds: int) -> dict[str, float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        with contextlib.suppress(ScenarioInvalid):  # hostile inputs: we time the refusal
            fn()
        samples.append(time.perf_counter() - start)
    return percentiles_ms(samples)


def main() -> None:
    args = parse_args(__doc__ or "")
    rounds = 5 if args.quick else 20
    example = (EXAMPLES / "town-hall.yaml").read_text(encoding="utf-8")
    big = _big_scenario()
    big_yaml = yaml.safe_dump(big, sort_keys=False)
    big_json = json.dumps(big)
    deep = "[" * 20_000 + "]" * 20_000
    cases: list[tuple[str, int, Callable[[], object]]] = [
        ("example town-hall.yaml", len(example), lambda: parse_scenario(example)),
        ("~1 MB scenario, YAML", len(big_yaml), lambda: parse_scenario(big_yaml)),
        ("~1 MB scenario, JSON", len(big_json), lambda: parse_scenario(big_json, as_json=True)),
        ("20,000-deep YAML (refused)", len(deep), lambda: parse_scenario("a: " + deep)),
        ("20,000-deep JSON (refused)", len(deep), lambda: parse_scenario(deep, as_json=True)),
        ("JSON depth scan, ~1 MB body", len(big_json), lambda: json_too_deep(big_json)),
    ]
    names = {"a": 3.0, "b": 7, "s": "ab", "containment": 0.4, "severity": 2}
    expr = "min(1, containment + 0.3) * severity + a / b - abs(-a)"
    cases.append(
        (
            "expression (bounded eval) x1000",
            len(expr),
            lambda: [evaluate(expr, names) for _ in range(1000)],
        )
    )
    rows = []
    results = {}
    for label, size, fn in cases:
        with contextlib.suppress(ScenarioInvalid):
            fn()  # warm
        stats = _time(fn, rounds)
        rows.append([label, size, stats["p50_ms"], stats["p99_ms"], stats["max_ms"]])
        results[label] = stats
    table(["case", "bytes", "p50 ms", "p99 ms", "max ms"], rows)
    emit("validation", rounds=rounds, results=results)


if __name__ == "__main__":
    main()
