"""`aegntix worker` (run branch slices from the queue) and `aegntix workers` (who works)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from typing import Annotated

import typer
from rich.table import Table

from aegntix.cli.common import DbOption, JsonOption, console, emit_json, handles_errors, opened
from aegntix.errors import InvalidRequest
from aegntix.observability.logs import set_level
from aegntix.timeline.postgres import is_postgres_url

ConcurrencyOption = Annotated[
    int,
    typer.Option(
        min=1,
        max=256,
        help="Slices run at once in this process (more helps LLM-bound steps; CPU-bound "
        "rules steps want one process per core instead).",
    ),
]


def _needs_postgres(db: str) -> None:
    if not is_postgres_url(db):
        raise InvalidRequest(
            "--db: workers need a postgresql:// URL (a SQLite database runs everything "
            "in one process: `aegntix serve`)"
        )


def _log_lines(level: str) -> None:
    """The log configuration of every command (``observability/logs.py``: JSON lines unless
    stderr is a terminal, the run's ``branch_id`` and ``tenant_id`` on its lines) at
    ``level``; procrastinate's own narration (a line per job) only from warnings up."""
    set_level(level)
    logging.getLogger("procrastinate").setLevel(logging.WARNING)


def _stop_with_parent(parent_pid: int) -> None:
    """SIGTERM to this process once ``parent_pid`` is no longer its parent (it died, even by
    ``kill -9``): a graceful stop, so the slices in progress are handed back."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="aegntix-parent-watch", daemon=True).start()


@handles_errors
def worker(
    db: DbOption = "aegntix.db",
    concurrency: ConcurrencyOption = 4,
    bus: Annotated[
        str | None,
        typer.Option(help="Bus for live events (default: PostgreSQL LISTEN/NOTIFY on --db)."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    grace: Annotated[
        float,
        typer.Option(min=0, max=3600, help="Seconds slices may finish in after SIGTERM."),
    ] = 10.0,
    exit_with: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Run branch slices and rollout members from the work queue until SIGTERM."""
    from aegntix.workers.process import WorkerOptions, run_worker

    _needs_postgres(db)
    if log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise InvalidRequest(f"--log-level: '{log_level}' is not debug, info, warning or error")
    if exit_with is not None:  # started by `serve --workers`: stop with it
        _stop_with_parent(exit_with)
    _log_lines(log_level)
    options = WorkerOptions(db=db, concurrency=concurrency, bus=bus, grace_s=grace)
    asyncio.run(run_worker(options))


@handles_errors
def workers(db: DbOption = "aegntix.db", json_out: JsonOption = False) -> None:
    """Live workers, the slice each runs, their last heartbeat, and the queue depth."""
    from aegntix.workers.census import census
    from aegntix.workers.queue import QueueSettings

    _needs_postgres(db)
    settings = QueueSettings.from_env()
    with opened(db) as store:
        found = census(store, settings.stalled_s)
    if json_out:
        emit_json(
            {
                "live": found.live,
                "queued": found.queued,
                "workers": [
                    {
                        "worker_id": w.worker_id,
                        "live": w.live,
                        "heartbeat_age_s": round(w.heartbeat_age_s, 3),
                        "slices": [
                            {
                                "job_id": s.job_id,
                                "branch_id": s.branch_id,
                                "tenant_id": s.tenant_id,
                                "running_s": s.running_s,
                                "process": s.process,
                            }
                            for s in w.slices
                        ],
                    }
                    for w in found.workers
                ],
            }
        )
        return
    table = Table(title=f"{found.live} live worker(s) · {found.queued} slice(s) queued")
    columns = ("worker", "state", "last heartbeat", "slices (branch · tenant · running · process)")
    for column in columns:
        table.add_column(column)
    for w in found.workers:
        slices = "\n".join(
            f"{s.branch_id} · {s.tenant_id} · "
            + ("?" if s.running_s is None else f"{s.running_s:.1f} s")
            + f" · {s.process or '?'}"
            for s in w.slices
        )
        state = "[green]live[/]" if w.live else "[red]stalled[/]"
        table.add_row(str(w.worker_id), state, f"{w.heartbeat_age_s:.1f} s ago", slices or "-")
    console.print(table)
    if not found.live:
        console.print("no worker is running: start `aegntix worker --db …`")
