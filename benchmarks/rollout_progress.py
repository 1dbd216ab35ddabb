"""A rollout set's live progress under load: what ``WS /v1/rollouts/{id}/stream`` costs the run
and sends each client while 1,000 members take 50 steps each as fast as the loop allows.
Prints a table and one JSON line.

- server: the real app (``create_app``) on uvicorn in a thread, a SQLite store, one real set;
  in its loop a publisher makes the board calls a 1,000 × 50 set makes (``stepped`` per member
  step, ``running`` per finished member), yielding to the loop every 100 calls, then settles;
- clients: N WebSocket connections (``websockets``) that count frames until ``settled``.

Figures: progress frames per client per second (target ≤ 10.5: one frame per 0.1 s at most),
the board's cost per call (the run pays it on every member step).

    .venv/bin/python benchmarks/rollout_progress.py [--quick]   # 100 (10) clients
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from websockets.asyncio.client import connect

from _common import emit, parse_args, table
from aegntix.security.keys import create_key
from aegntix.server.app import create_app
from aegntix.server.rollout_stream import ProgressBoard, board_of
from aegntix.timeline import open_sqlite_store

MEMBERS = 1000
STEPS = 50
SPREAD_S = 3.0  # the publisher spreads its calls over about this long (a fast set: ~17k steps/s)
MAX_FRAMES_PER_S = 10.5


def serve(app: Any) -> tuple[uvicorn.Server, list[asyncio.AbstractEventLoop], int]:
    loops: list[asyncio.AbstractEventLoop] = []

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            loops.append(asyncio.get_running_loop())
        await app(scope, receive, send)

    config = uvicorn.Config(
        asgi, host="127.0.0.1", port=0, log_level="warning", ws_ping_interval=None
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, loops, server.servers[0].sockets[0].getsockname()[1]


def make_set(base: str, key: str) -> str:
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60) as http:
        root = http.post("/v1/examples/town-hall").json()["root_branch"]["id"]
        set_id: str = http.post(
            f"/v1/branches/{root}/rollouts", json={"at_step": 0, "n": 1}
        ).json()["id"]
        while http.get(f"/v1/rollouts/{set_id}").json()["running"]:
            time.sleep(0.05)
    return set_id


async def publish(board: ProgressBoard, set_id: str) -> dict[str, float]:
    """The board calls of a 1,000 × 50 set, spread over about ``SPREAD_S`` seconds."""
    board.begin(set_id, done=0, total=MEMBERS, forked=MEMBERS)
    calls = 0
    total = MEMBERS * STEPS
    spent = 0.0
    started = time.perf_counter()
    for step in range(1, STEPS + 1):
        for member in range(MEMBERS):
            t = time.perf_counter()
            board.stepped(set_id, f"b{member}", step)
            if step == STEPS:
                board.running(set_id, member + 1, MEMBERS)
            spent += time.perf_counter() - t
            calls += 1
            if calls % 100 == 0:  # yield like a run does; pace to SPREAD_S
                await asyncio.sleep(
                    max(0.0, started + SPREAD_S * calls / total - time.perf_counter())
                )
    board.settle(set_id)
    return {"seconds": time.perf_counter() - started, "calls": calls, "spent": spent}


async def client(url: str, opened: asyncio.Event, ready: list[int], want: int) -> int:
    """Progress frames received until ``settled``."""
    frames = 0
    async with connect(url, proxy=None, max_queue=None) as ws:
        json.loads(await ws.recv())  # hello
        ready.append(1)
        if len(ready) == want:
            opened.set()
        async for raw in ws:
            if json.loads(raw)["type"] == "settled":
                break
            frames += 1
    return frames


async def main_async(clients: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp())
    store = open_sqlite_store(folder / "bench.db")
    app = create_app(store)
    server, loops, port = serve(app)
    key = create_key(store, "bench", "owner")[1]
    try:
        set_id = make_set(f"http://127.0.0.1:{port}", key)
        board = board_of(app)
        # the set is "running" before the clients connect, so they follow it
        ready_loop = asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(_begin(board, set_id), loops[0])
        )
        await ready_loop
        url = f"ws://127.0.0.1:{port}/v1/rollouts/{set_id}/stream?api_key={key}"
        opened = asyncio.Event()
        ready: list[int] = []
        tasks = [asyncio.create_task(client(url, opened, ready, clients)) for _ in range(clients)]
        await opened.wait()
        run = await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(publish(board, set_id), loops[0])
        )
        frames = await asyncio.gather(*tasks)
    finally:
        server.should_exit = True
        store.close()
    per_s = [f / run["seconds"] for f in frames]
    return {
        "clients": clients,
        "board_calls": int(run["calls"]),
        "publish_s": round(run["seconds"], 3),
        "board_call_us": round(run["spent"] / run["calls"] * 1e6, 3),
        "frames_per_client_max": max(frames),
        "frames_per_client_per_s_max": round(max(per_s), 2),
        "target_frames_per_s": MAX_FRAMES_PER_S,
        "ok": max(per_s) <= MAX_FRAMES_PER_S,
    }


async def _begin(board: ProgressBoard, set_id: str) -> None:
    board.begin(set_id, done=0, total=MEMBERS, forked=MEMBERS)


def main() -> None:
    args = parse_args(__doc__ or "")
    result = asyncio.run(main_async(10 if args.quick else 100))
    table(
        ["clients", "board calls", "publish s", "µs/call", "frames/client", "frames/s (max)"],
        [
            [
                result["clients"],
                result["board_calls"],
                result["publish_s"],
                result["board_call_us"],
                result["frames_per_client_max"],
                result["frames_per_client_per_s_max"],
            ]
        ],
    )
    emit("rollout_progress", **result)


if __name__ == "__main__":
    main()
