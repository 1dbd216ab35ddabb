"""The ``aegntix`` command line (typer + rich)."""

from __future__ import annotations

import os

# Before numpy loads: one BLAS thread. Memory recall is a short matrix-vector product per
# decision; a second BLAS thread on a small machine competes with the event loop and the
# writer thread and multiplies tail latency (benchmarks/memory.py). Set it to override.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from aegntix import __version__
from aegntix.cli import (
    agents,
    demo,
    keys,
    mcp,
    metrics,
    report,
    rollouts,
    running,
    serve,
    timelines,
    tools,
    workers,
)
from aegntix.cli.common import JsonOption, console, emit_json, err_console, handles_errors
from aegntix.cli.usage import usage
from aegntix.model.loading import check_file, scenario_json_schema
from aegntix.observability.logs import FORMAT_ENV, LEVEL_ENV, configure_logging
from aegntix.observability.serving import HOST_ENV, PORT_ENV, serve_metrics

app = typer.Typer(
    name="aegntix",
    help="Reality sandboxes: run multi-agent scenarios, fork the timeline at any step, "
    "inject context, and compare the futures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
@handles_errors
def _logging(
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            envvar=FORMAT_ENV,
            help="Log lines on stderr: json, console, or auto (JSON unless stderr is a "
            f"terminal). Env: {FORMAT_ENV}.",
        ),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            envvar=LEVEL_ENV,
            help=f"debug, info, warning (default), error. Env: {LEVEL_ENV}.",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            envvar=PORT_ENV,
            min=0,
            max=65535,
            help="Serve this process's Prometheus metrics at http://HOST:PORT/metrics while "
            f"the command runs (workers, long runs; `serve` has /metrics). Env: {PORT_ENV}.",
        ),
    ] = None,
    metrics_host: Annotated[
        str,
        typer.Option(
            "--metrics-host",
            envvar=HOST_ENV,
            help=f"Interface for --metrics-port. Env: {HOST_ENV}.",
        ),
    ] = "127.0.0.1",
) -> None:
    """Every command: structured logs on stderr, metrics on a port if asked
    (docs/observability.md)."""
    configure_logging(log_format, log_level)
    if metrics_port is not None:
        # A daemon thread: it ends with the process, whatever the command does.
        serve_metrics(metrics_port, metrics_host)


app.command("demo")(demo.demo)
app.command("run")(running.run)
app.command("continue")(running.continue_)
app.command("branches")(timelines.branches)
app.command("fork")(timelines.fork)
app.command("inject")(timelines.inject)
app.command("compare")(timelines.compare)
app.command("events")(timelines.events)
app.command("state")(timelines.state)
app.command("verify")(timelines.verify)
app.command("metrics")(metrics.metrics)
app.command("usage")(usage)
app.command("serve")(serve.serve)
app.command("mcp")(mcp.mcp)
app.command("worker")(workers.worker)
app.command("workers")(workers.workers)
app.command("memories")(agents.memories_command)
app.command("report")(report.report)
app.command("tools")(tools.tools_command)
app.add_typer(keys.app, name="keys")
app.add_typer(agents.app, name="agents")
app.add_typer(rollouts.app, name="rollouts")


@app.command()
@handles_errors
def validate(
    file: Annotated[Path, typer.Argument(help="Scenario file (YAML or JSON).")],
    json_out: JsonOption = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show a YAML parser's context.")
    ] = False,
) -> None:
    """Check a scenario file; print every problem (file:line: field: reason) and warning."""
    checked = check_file(file)
    scenario = checked.scenario
    if json_out:
        emit_json(
            {
                "ok": True,
                "name": scenario.name,
                "agents": len(scenario.agents),
                "warnings": [w.as_json() for w in checked.warnings],
            }
        )
        return
    for warning in checked.warnings:
        err_console.print(f"[bold yellow]warning:[/] {escape(str(warning))}", soft_wrap=True)
    console.print(
        f"[green]ok[/]: {escape(str(file))} — '{escape(scenario.name)}', "
        f"{len(scenario.agents)} agents, {scenario.turn_order} turns, "
        f"outcomes: {', '.join(scenario.outcomes) or 'none'}"
        + (f", {len(checked.warnings)} warning(s)" if checked.warnings else "")
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files."""
    print(json.dumps(scenario_json_schema(), indent=2))


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


def main() -> None:
    app()
