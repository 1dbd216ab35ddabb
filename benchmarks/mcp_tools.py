"""MCP tools: what AegntiX's router adds to a tool call, and a step in which every agent calls
a tool.

Figures:

- **bare**: ``mcp.Client.call_tool`` straight to the market-data server
  (``examples/tools/market_server.py``), over stdio and over streamable HTTP on loopback.
- **router**: the same call through one run's ``RunTools`` (allow-list check, the server's
  concurrency slot and timeout, result shaping: structured content, redaction, size limit).
  **overhead** = router − bare, at p50 and p99.
- **step**: one step of a 10-agent scenario (rules brain) in which each agent takes a
  tool-bound action (``quote`` → ``market.get_price``), through the ``Runner`` and appended to
  SQLite — against the same step with the action unbound (no tool), so the difference is what
  the ten calls and their events cost.

    .venv/bin/python benchmarks/mcp_tools.py            # 300 calls per transport, 20 steps
    .venv/bin/python benchmarks/mcp_tools.py --quick    # 60 calls, 5 steps
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

from _common import emit, percentiles_ms, table
from aegntix.engine import Runner, start_scenario
from aegntix.model.scenario import Scenario
from aegntix.timeline import open_sqlite_store
from aegntix.tools.router import ToolRouter

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "examples" / "tools" / "market_server.py"
AGENTS = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _bare(target: Any, n: int) -> list[float]:
    samples = []
    async with Client(target) as client:
        for i in range(n + 10):
            started = time.perf_counter()
            await client.call_tool("get_price", {"symbol": "ACME", "day": i})
            if i >= 10:  # the first calls warm both ends up
                samples.append(time.perf_counter() - started)
    return samples


def _scenario(server: dict[str, Any], *, bound: bool = True, steps: int = 2) -> Scenario:
    quote: dict[str, Any] = {"description": "quote ACME", "keywords": ["quote"]}
    if bound:
        quote |= {"tool": "market.get_price", "arguments": {"symbol": "ACME", "day": "=day"}}
        quote["into"] = "price"
    return Scenario.model_validate(
        {
            "name": "tool bench",
            "world": {"price": 50.0, "day": 0},
            "tools": {"servers": {"market": server}},
            "actions": {"quote": quote},
            "agents": [
                {"id": f"t{i}", "name": f"Trader {i}", "role": "trader", "actions": ["quote"]}
                for i in range(AGENTS)
            ],
            "dynamics": {"day": "day + 1"},
            "termination": {"max_steps": steps},
        }
    )


async def _routed(server: dict[str, Any], n: int) -> list[float]:
    router = ToolRouter(health_every_s=None)
    try:
        tools = router.for_run(_scenario(server))
        await tools.prepare()
        assert await tools.servers["market"].wait_up(30), tools.servers["market"].last_error
        samples = []
        for i in range(n + 10):
            started = time.perf_counter()
            outcome = await tools.call("t0", i, "market.get_price", {"symbol": "ACME", "day": i})
            if i >= 10:
                samples.append(time.perf_counter() - started)
            assert outcome.ok, outcome.error
        return samples
    finally:
        await router.aclose()


class _Quoting:
    """A brain that always takes the ``quote`` action (the rules brain's choice would vary)."""

    name = "quoting"

    async def decide(self, observation: Any, rng: Any) -> Any:
        from aegntix.brains.base import Decision

        return Decision(action="act", act="quote", content="quote")


async def _steps(server: dict[str, Any], steps: int, *, bound: bool) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_sqlite_store(Path(tmp) / "bench.db")
        try:
            branch = start_scenario(store, _scenario(server, bound=bound, steps=steps + 1))
            runner = Runner(store, branch.id, brains=lambda _scenario, _agent: _Quoting())
            await runner.step()  # the servers start with the run: not timed
            samples = []
            for _ in range(steps):
                started = time.perf_counter()
                await runner.step()
                samples.append(time.perf_counter() - started)
            return samples
        finally:
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and steps")
    args = parser.parse_args()
    calls, steps = (60, 5) if args.quick else (300, 20)

    port = _free_port()
    http = subprocess.Popen(
        [sys.executable, str(SERVER), "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    stdio_spec = {"command": sys.executable, "args": [str(SERVER)], "timeout_s": 10}
    http_spec = {"url": url, "timeout_s": 10}
    try:
        deadline = time.monotonic() + 30
        while True:  # until the HTTP server listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the HTTP market server did not start") from None
                time.sleep(0.1)
        results: dict[str, dict[str, float]] = {}
        stdio_target = StdioServerParameters(command=sys.executable, args=[str(SERVER)])
        results["stdio bare"] = percentiles_ms(asyncio.run(_bare(stdio_target, calls)))
        results["stdio router"] = percentiles_ms(asyncio.run(_routed(stdio_spec, calls)))
        results["http bare"] = percentiles_ms(asyncio.run(_bare(url, calls)))
        results["http router"] = percentiles_ms(asyncio.run(_routed(http_spec, calls)))
        step_tools = percentiles_ms(asyncio.run(_steps(stdio_spec, steps, bound=True)))
        step_plain = percentiles_ms(asyncio.run(_steps(stdio_spec, steps, bound=False)))
    finally:
        http.terminate()
        http.wait(10)

    rows = [[name, r["p50_ms"], r["p99_ms"], r["n"]] for name, r in results.items()]
    table(["tool call", "p50 ms", "p99 ms", "n"], rows)
    overhead = {
        t: {
            "p50_ms": round(results[f"{t} router"]["p50_ms"] - results[f"{t} bare"]["p50_ms"], 3),
            "p99_ms": round(results[f"{t} router"]["p99_ms"] - results[f"{t} bare"]["p99_ms"], 3),
        }
        for t in ("stdio", "http")
    }
    print()
    table(
        ["router overhead", "p50 ms", "p99 ms"],
        [[t, o["p50_ms"], o["p99_ms"]] for t, o in overhead.items()],
    )
    print()
    table(
        [f"step, {AGENTS} agents", "p50 ms", "p99 ms", "n"],
        [
            ["each calls a tool (stdio)", step_tools["p50_ms"], step_tools["p99_ms"], steps],
            ["same action, no tool", step_plain["p50_ms"], step_plain["p99_ms"], steps],
        ],
    )
    emit(
        "mcp",
        calls=results,
        overhead=overhead,
        step_with_tools=step_tools,
        step_without_tools=step_plain,
        agents=AGENTS,
    )


if __name__ == "__main__":
    main()
