"""Typed MCP tool errors: a failed call answers with ``is_error`` and the REST problem's
fields, so a model reads what went wrong and which argument to fix::

    {"error": "not-found", "status": 404, "detail": "...", "errors": [{"field", "reason"}]}

``error`` is the slug of the REST problem type (``problems.py``); ``status`` the HTTP status
REST answers with. A bug answers ``internal`` with a generic detail (the rest goes to the
log), never an exception's text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, TextContent
from pydantic import ValidationError

from aegntix.errors import AegntixError, printable
from aegntix.server.problems import Problem, as_problem, validation_problem

log = structlog.get_logger(__name__)


class FieldNamed(Exception):
    """``error`` raised while handling the tool argument ``field`` (see :func:`naming`)."""

    def __init__(self, field: str, error: Exception) -> None:
        super().__init__(str(error))
        self.field = field
        self.error = error


@contextmanager
def naming(field: str, *kinds: type[Exception]) -> Iterator[None]:
    """Errors of ``kinds`` raised inside name the argument ``field`` (when they name none):
    an unknown example, a step the branch has not reached."""
    try:
        yield
    except kinds as exc:
        raise FieldNamed(field, exc) from exc


def _problem(exc: BaseException) -> Problem | None:
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, AegntixError):
        return as_problem(exc)
    if isinstance(exc, ValidationError):
        return validation_problem(exc.errors())
    if isinstance(exc, FieldNamed):
        found = _problem(exc.error)
        if found is not None and not found.errors:
            found.errors = [{"field": exc.field, "reason": found.detail}]
        return found
    return None


def error_body(tool: str, exc: BaseException) -> dict[str, Any]:
    """The typed body of a failed call of ``tool``."""
    cause = exc.__cause__ if isinstance(exc, ToolError) else exc
    problem = _problem(cause) if cause is not None else None
    if problem is None and isinstance(exc, ToolError) and not isinstance(exc, UnexpectedToolError):
        # the SDK's own refusal (an unknown tool): its text names no user data
        problem = Problem(400, printable(str(exc)), slug="invalid-request")
    if problem is None:
        log.error("mcp tool failed", tool=tool, error=repr(cause or exc), exc_info=cause or exc)
        problem = Problem(500, "an unexpected error occurred", slug="internal")
    body: dict[str, Any] = {
        "error": problem.slug,
        "status": problem.status,
        "detail": problem.detail,
        "errors": problem.errors,
    }
    retry = problem.headers.get("Retry-After")
    if retry is not None:
        body["retry_after"] = int(retry)
    return body


def error_result(tool: str, exc: BaseException) -> CallToolResult:
    """``is_error`` with the typed body, as structured content and as JSON text (the part
    most clients show a model)."""
    body = error_body(tool, exc)
    text = json.dumps(body, ensure_ascii=False)
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=body, is_error=True
    )


@contextmanager
def quiet_root_logging() -> Iterator[None]:
    """Undo what ``MCPServer()`` does to the root logger (a handler and a level): the
    process logs through structlog (``observability/logs.py``), on stderr."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
