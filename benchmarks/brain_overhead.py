"""LLM brain overhead, cache-hit latency and concurrency, against the fake provider.

The fake OpenAI-compatible server runs in its own process (so its work does not share our
GIL), on loopback, answering at once or after a fixed delay. Three figures:

1. **Our overhead** per decision through the whole LLM path on a cache miss — prompt,
   digest, cache lookups (memory, then SQLite), limiter, the SDK call, validation, and the
   cache-row write through the store's writer — *minus* the time spent inside the provider
   call itself (the SDK's ``create`` and the HTTP round trip, reported alongside).
   Target: p99 < 3 ms.
2. **Cache hit**: a whole ``decide()`` whose reply is in the memory tier. Target: p99 < 0.2 ms.
   (A hit from the SQLite tier, after a restart, is reported too.)
3. **Throughput**: 100 agents deciding concurrently against replies that take 200 ms, at
   several per-provider concurrency limits; expect about ``limit / 0.2 s`` decisions per
   second while the client's CPU keeps up. Also through the Runner (a 100-agent scenario,
   simultaneous turns), where every step waits for its slowest reply.

    .venv/bin/python benchmarks/brain_overhead.py           # 2,000 decisions per figure
    .venv/bin/python benchmarks/brain_overhead.py --quick   # 300
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from _common import emit, parse_args, percentiles_ms, table
from aegntix.brains.cache import cache_for
from aegntix.brains.llm import DECIDE, Completion, LLMBrain, Task
from aegntix.brains.registry import BrainContext, brain_for_config
from aegntix.engine import Runner, start_scenario
from aegntix.engine.observation import Window, observe
from aegntix.model.events import EventKind
from aegntix.model.loading import load_scenario, validate_scenario
from aegntix.model.scenario import Scenario
from aegntix.model.state import initial_state
from aegntix.timeline import SqlStore, open_sqlite_store

ROOT = Path(__file__).resolve().parent.parent
TARGET_OVERHEAD_P99_MS = 3.0
TARGET_HIT_P99_MS = 0.2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_fake(delay: float) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [sys.executable, "-m", "aegntix.testing", "--port", str(port)]
    proc = subprocess.Popen([*command, "--delay", str(delay)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()  # "fake LLM on ..." once it listens
    return proc, f"http://127.0.0.1:{port}/v1"


def scenario_for(base_url: str, *, agents: int | None = None, concurrency: int = 8) -> Scenario:
    base = load_scenario(ROOT / "examples" / "negotiation.yaml").model_dump(mode="json")
    base["brain"] = {
        "kind": "openai",
        "model": "bench",
        "base_url": base_url,
        "concurrency": concurrency,
        "timeout": 30,
    }
    if agents is not None:  # a crowd for the throughput figure
        template = base["agents"][2]  # the mediator: no terms to keep consistent
        base["agents"] = [
            {**template, "id": f"a{i}", "name": f"Agent {i}", "negotiation": None}
            for i in range(agents)
        ]
        base["turn_order"] = "simultaneous"
        base["termination"] = {"max_steps": 1_000_000}
    return validate_scenario(base)


class TimedProvider:
    """Wraps a provider and adds up the time spent inside ``send`` (SDK + HTTP)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.spent = 0.0

    def client(self, api_key: str, config: Any) -> Any:
        return self.inner.client(api_key, config)

    def request(
        self, chat: Any, config: Any, sample: int | None, task: Task = DECIDE, offer: Any = None
    ) -> dict[str, Any]:
        return self.inner.request(chat, config, sample, task, offer)  # type: ignore[no-any-return]

    async def send(self, client: Any, request: dict[str, Any], timeout: float) -> Completion:
        started = time.perf_counter()
        try:
            return await self.inner.send(client, request, timeout)  # type: ignore[no-any-return]
        finally:
            self.spent += time.perf_counter() - started


def observations(scenario: Scenario, n: int) -> list[Any]:
    """``n`` distinct, realistic observations (a window of visible messages)."""
    state = initial_state(scenario)
    window = Window(scenario.memory_window)
    seq = 0
    views = []
    for step in range(1, n + 1):
        window.advance(step)
        for agent in scenario.agents[:2]:
            seq += 1
            payload = {"text": f"My offer stands at {15000 + step} for now.", "fields": {}}
            window.add(seq, step, EventKind.MESSAGE, agent.id, payload)
        views.append(observe(scenario, state, scenario.agents[0].id, step, window))
    return views


async def measure_misses_and_hits(
    store: SqlStore, scenario: Scenario, n: int
) -> dict[str, dict[str, float]]:
    agent = scenario.agents[0]
    context = BrainContext(store, "default", "bench", "bench")
    brain = brain_for_config(scenario.brain_for(agent), context=context, agent_id=agent.id)
    assert isinstance(brain, LLMBrain)
    timed = TimedProvider(brain.provider)
    brain.provider = timed
    views = observations(scenario, n)
    rng = random.Random(0)
    for view in views[:20]:  # warm up: connections, imports, code paths
        await brain.decide(view, rng)
    overhead, provider, hits, db_hits = [], [], [], []
    gc.collect()
    for view in views[20:]:
        timed.spent = 0.0
        started = time.perf_counter()
        await brain.decide(view, rng)
        total = time.perf_counter() - started
        overhead.append(total - timed.spent)
        provider.append(timed.spent)
    calls = brain.provider_calls
    for view in views[20:]:
        started = time.perf_counter()
        await brain.decide(view, rng)
        hits.append(time.perf_counter() - started)
    assert brain.provider_calls == calls, "a cache hit called the provider"
    cache_for(store).forget_memory()
    for view in views[20:]:
        started = time.perf_counter()
        await brain.decide(view, rng)
        db_hits.append(time.perf_counter() - started)
        cache_for(store).forget_memory()
    assert brain.provider_calls == calls
    return {
        "overhead": percentiles_ms(overhead),
        "provider_call": percentiles_ms(provider),
        "cache_hit": percentiles_ms(hits),
        "cache_hit_db": percentiles_ms(db_hits),
    }


def agent_throughput(base_url: str, tmp: Path, limit: int, rounds: int) -> dict[str, float]:
    """100 agents, each deciding ``rounds`` times in a row (no step barrier): the provider
    limit is the only thing that makes them wait."""
    scenario = scenario_for(base_url, agents=100, concurrency=limit)
    views = observations(scenario, rounds + 1)

    async def crowd(store: SqlStore) -> float:
        context = BrainContext(store, "default", "bench", f"tp-{limit}")
        brains = [
            brain_for_config(scenario.brain_for(a), context=context, agent_id=a.id)
            for a in scenario.agents
        ]

        async def agent(i: int, brain: Any, todo: list[Any]) -> None:
            rng = random.Random(i)
            for view in todo:
                await brain.decide(replace(view, agent=scenario.agents[i]), rng)

        await asyncio.gather(*(agent(i, b, views[:1]) for i, b in enumerate(brains)))  # warm
        started = time.perf_counter()
        await asyncio.gather(*(agent(i, b, views[1:]) for i, b in enumerate(brains)))
        return time.perf_counter() - started

    with open_sqlite_store(tmp / f"agents-{limit}.db") as store:
        elapsed = asyncio.run(crowd(store))
    decisions = 100 * rounds
    return _rate(limit, decisions, elapsed)


def runner_throughput(base_url: str, tmp: Path, limit: int, steps: int) -> dict[str, float]:
    """A 100-agent scenario with simultaneous turns through the Runner: a step waits for all
    100 replies, so a step takes 0.2 s plus the CPU time of 100 decisions."""
    scenario = scenario_for(base_url, agents=100, concurrency=limit)
    with open_sqlite_store(tmp / f"runner-{limit}.db") as store:
        branch = start_scenario(store, scenario)
        runner = Runner(store, branch.id)
        asyncio.run(runner.run(1))  # warm up (connections)
        started = time.perf_counter()
        asyncio.run(runner.run(steps))
        elapsed = time.perf_counter() - started
    return _rate(limit, 100 * steps, elapsed)


def _rate(limit: int, decisions: int, elapsed: float) -> dict[str, float]:
    return {
        "limit": limit,
        "decisions": decisions,
        "seconds": round(elapsed, 3),
        "per_s": round(decisions / elapsed, 1),
        "expected_per_s": round(limit / 0.2, 1),
    }


_KEYS = ("limit", "decisions", "seconds", "per_s", "expected_per_s")


def main() -> None:
    args = parse_args(__doc__ or "")
    n = 300 if args.quick else 2000
    steps = 3 if args.quick else 10
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-real-key")
    tmp = Path(tempfile.mkdtemp(prefix="aegntix-bench-"))
    fast, fast_url = start_fake(0.0)
    slow, slow_url = start_fake(0.2)
    try:
        with open_sqlite_store(tmp / "overhead.db") as store:
            latency = asyncio.run(measure_misses_and_hits(store, scenario_for(fast_url), n + 20))
        rates = [agent_throughput(slow_url, tmp, limit, steps) for limit in (10, 50, 100)]
        stepped = [runner_throughput(slow_url, tmp, limit, steps) for limit in (10, 100)]
    finally:
        for proc in (fast, slow):
            proc.terminate()
            proc.wait(5)
    rows = [[name, v["p50_ms"], v["p99_ms"], v["max_ms"], v["n"]] for name, v in latency.items()]
    print("LLM path latency (ms) against a zero-latency fake provider in another process")
    table(["what", "p50", "p99", "max", "n"], rows)
    print()
    headers = ["limit", "decisions", "seconds", "decisions/s", "≈ limit/0.2 s"]
    print("100 agents deciding concurrently, replies take 200 ms")
    table(headers, [[r[h] for h in _KEYS] for r in rates])
    print()
    print("the same through the Runner (simultaneous turns: each step waits for all 100)")
    table(headers, [[r[h] for h in _KEYS] for r in stepped])
    emit(
        "brain_overhead",
        overhead_p99_ms=latency["overhead"]["p99_ms"],
        overhead_p50_ms=latency["overhead"]["p50_ms"],
        provider_call_p50_ms=latency["provider_call"]["p50_ms"],
        cache_hit_p99_ms=latency["cache_hit"]["p99_ms"],
        cache_hit_p50_ms=latency["cache_hit"]["p50_ms"],
        cache_hit_db_p99_ms=latency["cache_hit_db"]["p99_ms"],
        throughput=rates,
        runner_throughput=stepped,
        targets={"overhead_p99_ms": TARGET_OVERHEAD_P99_MS, "cache_hit_p99_ms": TARGET_HIT_P99_MS},
        ok=latency["overhead"]["p99_ms"] < TARGET_OVERHEAD_P99_MS
        and latency["cache_hit"]["p99_ms"] < TARGET_HIT_P99_MS,
        n=n,
    )


if __name__ == "__main__":
    main()
