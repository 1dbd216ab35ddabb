"""`aegntix serve`: the REST API, the live stream and the web UI on uvicorn."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import structlog
import typer

from aegntix.cli.common import DbOption, console, handles_errors, opened
from aegntix.engine import start_scenario
from aegntix.errors import InvalidRequest, ProfileNotFound
from aegntix.model.loading import load_scenario
from aegntix.observability.serving import PORT_ENV
from aegntix.ports import bind
from aegntix.timeline import SqlStore
from aegntix.timeline.bus import BUS_ENV
from aegntix.timeline.opening import describe
from aegntix.timeline.postgres import is_postgres_url, postgres_url
from aegntix.timeline.schema import DEFAULT_TENANT
from aegntix.timeline.tenancy import TenantStore

log = structlog.get_logger(__name__)


def default_key_file(db: str) -> Path:
    """Where the bootstrap key goes: beside the database (``aegntix.db`` → ``aegntix.key``);
    for a PostgreSQL URL, ``<database name>.key`` in the working directory."""
    if is_postgres_url(db):
        return Path(f"{postgres_url(db).database}.key")
    return Path(db).with_suffix(".key")


def load_examples(store: SqlStore, tenant: str = DEFAULT_TENANT) -> list[str]:
    """Record each example scenario (and its root branch) not recorded yet; their names.
    The examples are the web UI's cards (``GET /v1/examples``): with the persistent agents
    of ``persistent/`` and the first chapter of their story (later chapters are for after
    keeping a branch)."""
    from aegntix.server.routes.scenarios import ensure_example_profiles, example_files

    scoped = TenantStore(store, tenant)
    have = {s.name for s in scoped.list_scenarios()}
    ensure_example_profiles(scoped)
    added = []
    for path in example_files().values():
        scenario = load_scenario(path)
        if scenario.name not in have:
            try:
                start_scenario(scoped, scenario)
            except ProfileNotFound:  # its persistent agent was deleted: not an example now
                continue
            added.append(scenario.name)
    return added


def _child_env(index: int) -> dict[str, str]:
    """A worker child's environment. An ``AEGNTIX_METRICS_PORT`` this server inherited is its
    own port: child ``index`` serves on the next ones (port + 1 + index), where sharing it
    made every child exit at once ("metrics port in use") and left the server with none."""
    env = dict(os.environ)
    base = env.get(PORT_ENV, "").strip()
    if base.isdigit() and int(base) > 0:
        env[PORT_ENV] = str(int(base) + 1 + index)
    return env


def _report_exits(children: list[subprocess.Popen[bytes]], told: set[int]) -> None:
    # a worker child that died leaves the server up with runs queueing: say so, once each
    for child in children:
        code = child.poll()
        if code is not None and child.pid not in told:
            told.add(child.pid)
            alive = sum(c.poll() is None for c in children)
            log.error(
                "worker process exited; runs queue until a worker runs",
                pid=child.pid,
                exit_code=code,
                workers_alive=alive,
            )


def _watch(
    children: list[subprocess.Popen[bytes]], stopping: threading.Event, told: set[int]
) -> None:
    while not stopping.wait(1.0):
        _report_exits(children, told)


@contextmanager
def worker_processes(
    db: str, bus: str | None, count: int
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` ``aegntix worker`` children on ``db`` (they die with this process), stopped
    with SIGTERM on the way out (their slices are handed back to the queue)."""
    args = [sys.executable, "-m", "aegntix", "worker", "--db", db, "--exit-with", str(os.getpid())]
    if bus:
        args += ["--bus", bus]
    children = [subprocess.Popen(args, env=_child_env(i)) for i in range(count)]
    stopping, told = threading.Event(), set[int]()
    if children:
        threading.Thread(
            target=_watch, args=(children, stopping, told), name="aegntix-workers", daemon=True
        ).start()
    try:
        yield children
    finally:
        stopping.set()
        _report_exits(children, told)
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()


@handles_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    db: DbOption = "aegntix.db",
    key_file: Annotated[
        Path | None,
        typer.Option(help="Where the first-start owner key is saved (default: DB with .key)."),
    ] = None,
    examples: Annotated[
        bool, typer.Option("--examples", help="Load the example scenarios (tenant 'default').")
    ] = False,
    log_level: Annotated[
        str | None,
        typer.Option(
            help="Log level of the server (info adds a line per request); default: the "
            "global --log-level / AEGNTIX_LOG_LEVEL, else warning."
        ),
    ] = None,
    bus: Annotated[
        str | None,
        typer.Option(
            help="Event bus shared with other processes on this database, e.g. "
            "redis://127.0.0.1:6379/0 (default: AEGNTIX_BUS, else PostgreSQL LISTEN/NOTIFY "
            "for a postgresql:// --db, else in-process only).",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            max=64,
            help="With a postgresql:// --db: also start this many `aegntix worker` "
            "processes (stopped with the server): one command for one machine.",
        ),
    ] = 0,
    ws_deflate: Annotated[
        bool,
        typer.Option(
            "--ws-deflate/--no-ws-deflate",
            help="Accept the WebSocket per-message deflate a browser offers. Off by default: "
            "it compresses every message once per client (no shared bytes), which took "
            "most of a replica's CPU fanning events out to 500 clients; turn it on for slow "
            "links.",
        ),
    ] = False,
) -> None:
    """Serve the REST API (/v1, docs at /docs), the WebSocket stream, the MCP server (/mcp)
    and the web UI (/)."""
    import uvicorn

    from aegntix.observability.logs import set_level
    from aegntix.server.app import create_app
    from aegntix.server.wsproto import ws_protocol

    if log_level is not None:
        set_level(log_level)

    # The port first: a taken one is one line and an exit, before a key is minted or printed.
    sock = bind(host, port)
    port = sock.getsockname()[1]  # --port 0: the one the system picked
    try:
        target = key_file if key_file is not None else default_key_file(db)
        on_postgres = is_postgres_url(db)
        if workers and not on_postgres:
            raise InvalidRequest("--workers needs a postgresql:// --db (SQLite runs in-process)")
        if on_postgres and bus is None and not os.environ.get(BUS_ENV, "").strip():
            bus = db  # replicas and workers share LISTEN/NOTIFY on the database itself
        with opened(db, create=True, bus=bus) as store, worker_processes(db, bus, workers):
            queue_db = db if on_postgres else None
            app = create_app(store, bootstrap=True, key_file=target, queue_db=queue_db, host=host)
            key = app.state.bootstrap_key
            if key is not None:
                console.print(
                    "[bold]First start:[/] an owner API key for tenant 'default' (shown once):\n"
                    f"  [bold green]{key}[/]\n"
                    f"  saved to {target} (mode 0600). More keys: `aegntix keys create`."
                )
            if examples:
                added = load_examples(store)
                if added:
                    console.print(f"loaded examples: {', '.join(added)}")
            shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
            base = f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"
            console.print(
                f"AegntiX UI: [bold]{base}/[/]  ·  API docs: {base}/docs  ·  db {describe(db)}"
            )
            # uvicorn's own loggers go through ours (one format); the access line is ours too.
            config = uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level=logging.getLogger().level,
                log_config=None,
                access_log=False,
                lifespan="on",
                # uvicorn[standard] picks uvloop and httptools; the WebSocket protocol is
                # websockets' sans-I/O one, each connection's frames of a loop turn written
                # together (server/wsproto.py)
                ws=ws_protocol(),
                ws_per_message_deflate=ws_deflate,
            )
            server = uvicorn.Server(config)
            server.run(sockets=[sock])
            if not server.started:
                raise typer.Exit(3)  # uvicorn said why
    finally:
        sock.close()
