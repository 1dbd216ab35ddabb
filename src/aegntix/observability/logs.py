"""Structured logs: one structlog configuration for every ``aegntix`` process.

- **Where**: stderr, always (stdout carries command output such as ``--json``).
- **Format**: JSON lines when stderr is not a terminal (a service manager, a container, a
  pipe), a readable console format when it is; ``AEGNTIX_LOG_FORMAT=json|console`` or
  ``aegntix --log-format`` overrides. Standard-library loggers (uvicorn, SQLAlchemy,
  Alembic) are routed through the same renderer, so a process writes one format.
- **Level**: ``AEGNTIX_LOG_LEVEL`` (default ``warning``); ``aegntix serve --log-level``.
- **Context**: fields bound with :func:`bound` (or :func:`structlog.contextvars
  .bind_contextvars`) appear on every line logged in that context — the runner binds
  ``branch_id`` and ``tenant_id`` for a run, the API binds ``request_id`` for a request and
  ``tenant_id`` once the caller is known. contextvars follow asyncio tasks (a task copies its
  creator's context), so lines from an agent's brain carry the run's ids.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

import structlog
from structlog.contextvars import bound_contextvars, merge_contextvars
from structlog.typing import Processor

from aegntix.errors import InvalidRequest

FORMAT_ENV = "AEGNTIX_LOG_FORMAT"
LEVEL_ENV = "AEGNTIX_LOG_LEVEL"
FORMATS = ("auto", "json", "console")
LEVELS = ("debug", "info", "warning", "error", "critical")

LogFormat = Literal["auto", "json", "console"]

bound = bound_contextvars
"""``with bound(branch_id=..., tenant_id=...):`` — fields on every line logged inside."""


class _Stderr:
    """A structlog logger writing each rendered line to the *current* ``sys.stderr`` (a test
    runner or a daemon may swap it after configuration)."""

    def msg(self, message: str) -> None:
        stream = sys.stderr
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _stderr_logger(*_args: Any) -> _Stderr:
    return _Stderr()


class _StderrHandler(logging.Handler):
    """The standard-library side: our root handler, also writing to the current stderr."""

    aegntix = True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def resolve_format(fmt: str | None = None) -> Literal["json", "console"]:
    """``json`` or ``console``: the argument, else ``AEGNTIX_LOG_FORMAT``, else by whether
    stderr is a terminal."""
    chosen = (fmt or os.environ.get(FORMAT_ENV) or "auto").strip().lower()
    if chosen not in FORMATS:
        raise InvalidRequest(f"log format '{chosen}' is not one of {', '.join(FORMATS)}")
    if chosen == "auto":
        isatty = getattr(sys.stderr, "isatty", None)
        return "console" if isatty is not None and isatty() else "json"
    return "json" if chosen == "json" else "console"


def resolve_level(level: str | None = None) -> int:
    chosen = (level or os.environ.get(LEVEL_ENV) or "warning").strip().lower()
    if chosen not in LEVELS:
        raise InvalidRequest(f"log level '{chosen}' is not one of {', '.join(LEVELS)}")
    return int(getattr(logging, chosen.upper()))


_chosen: dict[str, str | None] = {"format": None}


def set_level(level: str) -> None:
    """Change the level, keeping the format configured before (``serve --log-level``)."""
    configure_logging(_chosen["format"], level)


def configure_logging(fmt: str | None = None, level: str | None = None) -> str:
    """Configure structlog and the standard-library root logger (idempotent: a second call
    replaces the first). Returns the format chosen (``json`` or ``console``)."""
    rendered = resolve_format(fmt)
    _chosen["format"] = rendered
    threshold = resolve_level(level)
    shared: list[Processor] = [
        merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor
    if rendered == "json":
        shared.append(structlog.processors.dict_tracebacks)
        renderer = structlog.processors.JSONRenderer(default=str)
    else:
        colours = bool(getattr(sys.stderr, "isatty", lambda: False)())
        renderer = structlog.dev.ConsoleRenderer(colors=colours)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,  # stderr and the level may change (tests, reconfig)
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "aegntix", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(threshold)
    # Alembic narrates every migration step at info: only worth reading when debugging.
    logging.getLogger("alembic").setLevel(max(threshold, logging.WARNING))
    return rendered


P = ParamSpec("P")
S = TypeVar("S")
R = TypeVar("R")


def with_log_context(
    fields: Callable[[S], Mapping[str, Any]],
) -> Callable[
    [Callable[Concatenate[S, P], Coroutine[Any, Any, R]]],
    Callable[Concatenate[S, P], Coroutine[Any, Any, R]],
]:
    """Decorate an async method so every line logged while it runs carries
    ``fields(self)`` (``@with_log_context(lambda runner: {"branch_id": ...})``)."""

    def decorate(
        method: Callable[Concatenate[S, P], Coroutine[Any, Any, R]],
    ) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
        @functools.wraps(method)
        async def wrapper(instance: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            with bound_contextvars(**fields(instance)):
                return await method(instance, *args, **kwargs)

        return wrapper

    return decorate
