"""Event append → WebSocket receipt latency on loopback (DESIGN §5: p99 < 1 ms with 1 client,
< 5 ms with 1,000 subscribed clients), and two floors. Prints a table and one JSON line.

- server process: the real app (``create_app``) on uvicorn's defaults (uvloop, httptools,
  websockets sans-I/O) and a SQLite store; in its loop a publisher does what the run manager
  does — ``await store.append_async(...)``, then ``hub.publish_events`` — stamping
  ``time.monotonic_ns()`` before the append and at the publish. Heartbeats off.
- client processes: minimal ``asyncio.Protocol`` connections that stamp ``monotonic_ns`` on
  entry to ``data_received`` and parse frames only after the run. No compression.
- floors: a bare ``websockets`` echo round trip; and the raw fan-out — the server process
  writing one pre-framed message straight to N plain TCP transports (no ASGI, no hub).

``CLOCK_MONOTONIC`` is system-wide on Linux, so stamps of different processes compare. The
server collects its heap before each measured phase; collections during it are reported.

    .venv/bin/python benchmarks/ws_latency.py [--quick]   # 1,000 (200) events; ×1,000 clients
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing as mp
import os
import random
import resource
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _common import emit, percentiles_ms, step_events, table

TARGET_P99_MS = {1: 1.0, 1000: 5.0}
NS = 1_000_000  # ns per ms
HANDSHAKE = (
    "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def use_uvloop() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def text_frame(payload: bytes) -> bytes:
    n = len(payload)
    head = bytes([0x81, n]) if n < 126 else bytes([0x81, 126]) + n.to_bytes(2, "big")
    return head + payload


# -- the server process ------------------------------------------------------------------------
def server_main(db_path: str, control: Connection) -> None:
    import uvicorn

    from aegntix.security.keys import create_key
    from aegntix.server.app import create_app
    from aegntix.server.stream import StreamConfig
    from aegntix.timeline import open_sqlite_store

    raise_fd_limit(8192)
    store = open_sqlite_store(db_path)
    app = create_app(store)
    app.state.stream_config = StreamConfig(ping_interval=3600, idle_timeout=3600)
    key = create_key(store, "bench", "viewer")[1]
    scenario = store.create_scenario("ws bench", {"name": "ws bench"}, tenant_id="bench")
    loops: list[asyncio.AbstractEventLoop] = []
    raw: list[asyncio.Transport] = []  # the raw fan-out floor's connections

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            loops.append(asyncio.get_running_loop())
        await app(scope, receive, send)

    class RawServer(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            raw.append(transport)  # type: ignore[arg-type]

    config = uvicorn.Config(asgi, host="127.0.0.1", port=0, log_level="warning", backlog=4096)
    config.ws_ping_interval = None
    server = uvicorn.Server(config)
    pauses = watch_gc()

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loops[0]).result()

    def control_loop() -> None:
        while not server.started:
            time.sleep(0.01)
        raw_server = run(loops[0].create_server(RawServer, "127.0.0.1", 0, backlog=4096))
        ports = [s.sockets[0].getsockname()[1] for s in (server.servers[0], raw_server)]
        control.send({"port": ports[0], "raw_port": ports[1], "key": key})
        while True:
            command, args = control.recv()
            if command == "stop":
                server.should_exit = True
                return
            if command == "branch":
                control.send(store.create_branch(scenario.id, seed=1, tenant_id="bench").id)
            elif command == "settle":  # the clients are connected: start from a collected heap
                gc.collect()
                control.send(len(raw))
            elif command == "publish":
                pauses.clear()
                coro = publish(app, **args) if args.pop("via") == "app" else fan_out(raw, **args)
                published = run(coro)
                control.send({"published": published, "gc": gc_summary(pauses)})

    threading.Thread(target=control_loop, daemon=True).start()
    server.run()
    store.close()


def watch_gc() -> list[tuple[int, int]]:
    """``(generation, ns)`` of every garbage collection from now on."""
    pauses: list[tuple[int, int]] = []
    started = [0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.monotonic_ns()
        else:
            pauses.append((info["generation"], time.monotonic_ns() - started[0]))

    gc.callbacks.append(callback)
    return pauses


def gc_summary(pauses: list[tuple[int, int]]) -> dict[str, float]:
    full = [ns for gen, ns in pauses if gen == 2]
    total = sum(ns for _, ns in pauses)
    return {"collections": len(pauses), "total_ms": round(total / NS, 3), "gen2": len(full)}


async def publish(
    app: Any, branch: str, count: int, per_append: int, interval: float
) -> list[tuple[int, int, int, int]]:
    """Append ``count`` times (``per_append`` events each), publishing right after each
    append returned. Returns ``(first_seq, last_seq, t_append_ns, t_publish_ns)``."""
    store, hub = app.state.store, app.state.hub
    rng, out = random.Random(3), []
    for step in range(1, count + 1):
        events = step_events(step)
        batch = events[1:2] if per_append == 1 else events[:per_append]
        t_append = time.monotonic_ns()
        appended = await store.append_async(branch, batch)
        t_publish = time.monotonic_ns()
        hub.publish_events(branch, appended)
        out.append((appended[0].seq, appended[-1].seq, t_append, t_publish))
        await asyncio.sleep(interval * (0.5 + rng.random()))  # jitter: no lock-step with GC
    return out


async def fan_out(
    transports: list[asyncio.Transport], branch: str, count: int, per_append: int, interval: float
) -> list[tuple[int, int, int, int]]:
    """The raw floor: one pre-framed event message written to every transport in a loop."""
    rng, out = random.Random(3), []
    for seq in range(1, count + 1):
        t = time.monotonic_ns()
        frame = text_frame(json.dumps({"type": "event", "event": {"seq": seq}}).encode())
        for transport in transports:
            transport.write(frame)
        out.append((seq, seq, t, t))
        await asyncio.sleep(interval * (0.5 + rng.random()))
    return out


# -- the client processes ----------------------------------------------------------------------
class RawClient(asyncio.Protocol):
    """Send the handshake (if any), then stamp and keep every chunk; parse later."""

    def __init__(self, request: bytes, ready: asyncio.Future[None]) -> None:
        self.request, self.ready = request, ready
        self.chunks: list[tuple[int, bytes]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.request:
            transport.write(self.request)  # type: ignore[attr-defined]
        else:
            self.ready.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.chunks.append((time.monotonic_ns(), data))
        if not self.ready.done() and b'"hello"' in b"".join(c for _, c in self.chunks):
            self.ready.set_result(None)

    def receipts(self) -> list[tuple[int, int]]:
        """``(seq, stamp_ns)`` of every event frame: the stamp of the chunk completing it."""
        buffer, out, ends = b"", [], []
        for stamp, chunk in self.chunks:
            buffer += chunk
            ends.append((len(buffer), stamp))
        i = buffer.index(b"\r\n\r\n") + 4 if self.request else 0
        k = 0
        while i + 2 <= len(buffer):
            length, i = buffer[i + 1] & 0x7F, i + 2
            if length == 126:
                length, i = int.from_bytes(buffer[i : i + 2], "big"), i + 2
            end = i + length
            while ends[k][0] < end:
                k += 1
            message = json.loads(buffer[i:end])
            if message["type"] == "event":
                out.append((message["event"]["seq"], ends[k][1]))
            i = end
        return out


def clients_main(port: int, path: str | None, count: int, control: Connection) -> None:
    raise_fd_limit(count + 256)
    use_uvloop()
    asyncio.run(_clients(port, path, count, control))


async def _clients(port: int, path: str | None, count: int, control: Connection) -> None:
    loop = asyncio.get_running_loop()
    request = HANDSHAKE.format(path=path).encode() if path else b""
    clients: list[RawClient] = []
    for start in range(0, count, 100):  # connect in waves: no SYN-backlog drops
        wave = []
        for _ in range(min(100, count - start)):
            client = RawClient(request, loop.create_future())
            await loop.create_connection(lambda c=client: c, "127.0.0.1", port)  # type: ignore[misc]
            clients.append(client)
            wave.append(client.ready)
        await asyncio.wait_for(asyncio.gather(*wave), 30)
    gc.collect()
    control.send("ready")
    await loop.run_in_executor(None, control.recv)  # "collect"
    control.send([client.receipts() for client in clients])


# -- the echo floor ----------------------------------------------------------------------------
def echo_main(control: Connection) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def main() -> None:
        async with serve(echo, "127.0.0.1", 0, compression=None) as server:
            control.send(next(iter(server.sockets)).getsockname()[1])
            await asyncio.get_running_loop().run_in_executor(None, control.recv)

    use_uvloop()
    asyncio.run(main())


async def echo_floor(port: int, rounds: int) -> list[int]:
    from websockets.asyncio.client import connect

    samples = []
    async with connect(f"ws://127.0.0.1:{port}", compression=None, proxy=None) as ws:
        message = json.dumps({"type": "event", "event": {"seq": 0, "text": "x" * 200}})
        for i in range(rounds + 50):
            t0 = time.monotonic_ns()
            await ws.send(message)
            await ws.recv()
            if i >= 50:  # warm-up
                samples.append(time.monotonic_ns() - t0)
            await asyncio.sleep(0.001)
    return samples


# -- orchestration -----------------------------------------------------------------------------
def stats_ms(samples_ns: list[int]) -> dict[str, float]:
    return percentiles_ms([ns / 1e9 for ns in samples_ns])


def expect(pipe: Connection, timeout: float) -> Any:
    """The next message, or fail (a worker died) instead of waiting forever."""
    if not pipe.poll(timeout):
        raise SystemExit(f"no answer from a worker process within {timeout} s")
    return pipe.recv()


def measure(
    ctx: Any, server: Connection, info: dict[str, Any], case: dict[str, Any]
) -> dict[str, Any]:
    clients, procs, via = case.pop("clients"), case.pop("procs"), case["via"]
    server.send(("branch", None))
    branch = expect(server, 60)
    path = f"/v1/branches/{branch}/stream?api_key={info['key']}" if via == "app" else None
    port = info["port"] if via == "app" else info["raw_port"]
    pipes, workers = [], []
    for i in range(procs):
        n = clients // procs + (1 if i < clients % procs else 0)
        mine, theirs = ctx.Pipe()
        worker = ctx.Process(target=clients_main, args=(port, path, n, theirs), daemon=True)
        worker.start()
        pipes.append(mine)
        workers.append(worker)
    for pipe in pipes:
        assert expect(pipe, 120) == "ready"
    server.send(("settle", None))
    raw_connected = expect(server, 60)
    assert via == "app" or raw_connected == clients, (raw_connected, clients)
    server.send(("publish", {"branch": branch, **case}))
    answer = expect(server, 600)
    time.sleep(0.5)  # the last receipts
    receipts: list[tuple[int, int]] = []
    for pipe in pipes:
        pipe.send("collect")
        for per_client in expect(pipe, 120):
            receipts.extend(per_client)
    for worker in workers:
        worker.join(30)
    pub_at, app_at = {}, {}
    for first, last, t_append, t_publish in answer["published"]:
        for seq in range(first, last + 1):
            pub_at[seq], app_at[seq] = t_publish, t_append
    last_client: dict[int, int] = {}
    for seq, t in receipts:
        last_client[seq] = max(last_client.get(seq, 0), t - pub_at[seq])
    missing = clients * len(pub_at) - len(receipts)
    return {
        **{"via": via, "clients": clients, "client_procs": procs, "events": len(pub_at)},
        **{"per_append": case["per_append"], "missing": missing},
        **stats_ms([t - pub_at[seq] for seq, t in receipts]),
        "from_append": stats_ms([t - app_at[seq] for seq, t in receipts]),
        "last_client": stats_ms(list(last_client.values())),
        "server_gc": answer["gc"],
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run")
    parser.add_argument("--clients", type=int, default=1000, help="the many-clients case")
    parser.add_argument("--client-procs", type=int, default=1, help="processes for them")
    args = parser.parse_args()
    raise_fd_limit(args.clients + 1024)
    loop_kind = use_uvloop()
    ctx = mp.get_context("spawn")
    n1, nmany = (200, 40) if args.quick else (1000, 200)

    echo_pipe, theirs = ctx.Pipe()
    ctx.Process(target=echo_main, args=(theirs,), daemon=True).start()
    floor = stats_ms(asyncio.run(echo_floor(expect(echo_pipe, 60), n1)))
    echo_pipe.send("stop")

    many = {"clients": args.clients, "procs": args.client_procs, "count": nmany}
    cases = [
        {"clients": 1, "procs": 1, "count": n1, "per_append": 1, "interval": 0.01},
        {"clients": 1, "procs": 1, "count": n1 // 5, "per_append": 11, "interval": 0.02},
        {**many, "per_append": 1, "interval": 0.1},
        {**many, "per_append": 1, "interval": 0.1, "via": "raw"},
    ]
    with tempfile.TemporaryDirectory() as tmp:
        server_pipe, theirs = ctx.Pipe()
        db = str(Path(tmp) / "ws.db")
        server = ctx.Process(target=server_main, args=(db, theirs), daemon=True)
        server.start()
        info = expect(server_pipe, 60)
        rows = [measure(ctx, server_pipe, info, {"via": "app", **case}) for case in cases]
        server_pipe.send(("stop", None))
        server.join(30)

    def name(r: dict[str, Any]) -> str:
        what = "client(s)" if r["via"] == "app" else "raw sockets (floor)"
        return f"{r['clients']} {what}, {r['per_append']} event(s)/append"

    table(
        ["case", "p50 ms", "p99 ms", "max ms", "last client p50", "p99 from append", "target"],
        [
            ["websockets echo RTT (floor)", floor["p50_ms"], floor["p99_ms"], floor["max_ms"],
             "-", "-", "-"],
            *[
                [name(r), r["p50_ms"], r["p99_ms"], r["max_ms"], r["last_client"]["p50_ms"],
                 r["from_append"]["p99_ms"] if r["via"] == "app" else "-",
                 f"p99 < {TARGET_P99_MS.get(r['clients'], 5.0)} ms" if r["via"] == "app" else "-"]
                for r in rows
            ],
        ],
    )  # fmt: skip
    print(f"\nserver GC during the {args.clients}-client phase: {rows[2]['server_gc']}")
    emit("ws_latency", loop=loop_kind, echo_floor_rtt=floor, cases=rows)


if __name__ == "__main__":
    main()
