"""The MCP tools' call latency, as the official ``mcp`` client sees it: over streamable HTTP
(``/mcp`` of the app served by uvicorn on loopback, API key checked per request) and over
stdio (a ``python -m aegntix mcp`` subprocess), on a SQLite file with the negotiation example
run 4 steps. Tools: ``get_branch`` (a branch, its lease, its outcomes), ``read_events`` (a
page of 50), ``compare`` (a fork against its parent). Prints a table and one JSON line
``{"bench": "mcp_latency", ...}``.

    .venv/bin/python benchmarks/mcp_latency.py
    .venv/bin/python benchmarks/mcp_latency.py --quick
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from _common import emit, parse_args, percentiles_ms, table
from aegntix.server.app import create_app
from aegntix.timeline import open_sqlite_store


async def _prepare(client: Client) -> dict[str, Any]:
    async def call(tool: str, **arguments: Any) -> dict[str, Any]:
        result = await client.call_tool(tool, arguments)
        assert not result.is_error and isinstance(result.structured_content, dict)
        return result.structured_content

    root = (await call("create_scenario", example="negotiation"))["root_branch"]["id"]
    await call("run", branch_id=root, steps=4)
    fork = (await call("fork", branch_id=root, at_step=2))["id"]
    await call("run", branch_id=fork, steps=2)
    return {
        "get_branch": {"branch_id": root},
        "read_events": {"branch_id": root, "limit": 50},
        "compare": {"a": root, "b": fork},
    }


async def _measure(client: Client, calls: int) -> dict[str, dict[str, float]]:
    tools = await _prepare(client)
    out = {}
    for tool, arguments in tools.items():
        for _ in range(max(3, calls // 10)):  # warm-up
            await client.call_tool(tool, arguments)
        samples = []
        for _ in range(calls):
            t0 = time.perf_counter()
            result = await client.call_tool(tool, arguments)
            samples.append(time.perf_counter() - t0)
            assert not result.is_error
        out[tool] = percentiles_ms(samples)
    return out


def _over_http(folder: Path, calls: int) -> dict[str, dict[str, float]]:
    store = open_sqlite_store(folder / "http.db")
    app = create_app(store, bootstrap=True, key_file=folder / "owner.key")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)

    async def run() -> dict[str, dict[str, float]]:
        headers = {"Authorization": f"Bearer {app.state.bootstrap_key}"}
        http = httpx2.AsyncClient(headers=headers, timeout=60)
        url = f"http://127.0.0.1:{port}/mcp"
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            return await _measure(client, calls)

    try:
        return asyncio.run(run())
    finally:
        server.should_exit = True
        thread.join(15)
        store.close()


def _over_stdio(folder: Path, calls: int) -> dict[str, dict[str, float]]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "aegntix", "mcp", "--db", str(folder / "stdio.db")],
        env=dict(os.environ),
    )

    async def run() -> dict[str, dict[str, float]]:
        async with Client(params) as client:
            return await _measure(client, calls)

    return asyncio.run(run())


def main() -> None:
    args = parse_args(__doc__ or "")
    calls = 30 if args.quick else 300
    transports: dict[str, Callable[[Path, int], dict[str, dict[str, float]]]] = {
        "http": _over_http,
        "stdio": _over_stdio,
    }
    results: dict[str, Any] = {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, measure in transports.items():
            results[name] = measure(Path(tmp), calls)
            for tool, p in results[name].items():
                rows.append([name, tool, p["p50_ms"], p["p99_ms"], p["max_ms"]])
    table(["transport", "tool", "p50 ms", "p99 ms", "max ms"], rows)
    emit("mcp_latency", calls=calls, results=results)


if __name__ == "__main__":
    main()
