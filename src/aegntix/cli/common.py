"""Shared CLI plumbing: the database option, opening the store, ids, errors, output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape

from aegntix.errors import (
    AegntixError,
    InvalidRequest,
    ScenarioInvalid,
    printable,
)
from aegntix.model.parsing import json_too_deep
from aegntix.timeline.opening import opened as opened  # noqa: PLC0414 (re-export, PEP 484)
from aegntix.timeline.opening import resolve_branch as resolve_branch  # noqa: PLC0414

#: Width when output goes to a pipe or file: wide enough that nothing is hard-wrapped (a
#: suggested command or an id split over two lines cannot be copied or grepped).
PIPE_WIDTH = 4096


class CliConsole(Console):
    """A rich console that wraps to the terminal, and never when it writes to a pipe or file
    (unless ``COLUMNS`` asks for a width)."""

    @property
    def size(self) -> ConsoleDimensions:
        dims = super().size
        if self.is_terminal or self._width is not None:
            return dims
        return ConsoleDimensions(PIPE_WIDTH, dims.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


console = CliConsole(highlight=False)
err_console = CliConsole(stderr=True, highlight=False)

DEFAULT_DB = "aegntix.db"

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="AEGNTIX_DB",
        help="Timeline database: a SQLite file or a postgresql://user@host/db URL. "
        "Env: AEGNTIX_DB.",
        show_default=True,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]

P = ParamSpec("P")
R = TypeVar("R")


def handles_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn project errors into one readable line on stderr and a non-zero exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except AegntixError as exc:
            json_out, verbose = bool(kwargs.get("json_out")), bool(kwargs.get("verbose"))
            report_error(exc, json_out=json_out, verbose=verbose)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]: completed steps are saved")
            raise typer.Exit(130) from None

    return wrapper


def report_error(exc: AegntixError, *, json_out: bool = False, verbose: bool = False) -> None:
    """Each problem on its own line on stderr (user text escaped: no markup, no terminal
    control sequences); with ``--json`` also every problem as JSON on stdout; with
    ``--verbose`` a YAML parser's context after its line."""
    problems = exc.problems if isinstance(exc, ScenarioInvalid) else []
    for line in [str(p) for p in problems] or [str(exc)]:
        err_console.print(f"[bold red]error:[/] {escape(printable(line))}", soft_wrap=True)
    if verbose:
        for problem in problems:
            if problem.context:
                err_console.print(escape(printable(problem.context).replace("\\n", "\n")))
    if json_out and problems:
        emit_json(
            {
                "type": "error",
                "ok": False,
                "detail": str(exc),
                "errors": [p.as_json() for p in problems],
            }
        )


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values parse as JSON when they can (numbers, true, null)."""
    result: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InvalidRequest(f"--set: '{item}' is not key=value")
        if json_too_deep(raw):  # json.loads would recurse into it
            raise InvalidRequest(f"--set: '{key}' is nested too deeply")
        try:
            result[key] = json.loads(raw)
        except json.JSONDecodeError:
            result[key] = raw
    return result


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(_plain(value), ensure_ascii=False) + "\n")
    sys.stdout.flush()
