"""RFC 9457 problem details: every error the API returns has this one shape.

``{"type", "title", "status", "detail", "errors": [{"field", "reason"}]}``, served as
``application/problem+json``. Project errors map to statuses in one table here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from aegntix.errors import (
    AegntixError,
    AmbiguousId,
    BranchBusy,
    BranchFinished,
    Conflict,
    ExpressionFailed,
    ForkOutOfRange,
    InvalidRequest,
    NotFound,
    NoWorker,
    ProviderError,
    ProviderUnavailable,
    ScenarioInvalid,
    StoreError,
    StoreUnavailable,
    printable,
)

log = structlog.get_logger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://aegntix.dev/problems/"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}

#: (error class, status, problem type slug); the first matching class wins.
_MAPPING: tuple[tuple[type[AegntixError], int, str], ...] = (
    (NotFound, 404, "not-found"),
    (ScenarioInvalid, 422, "scenario-invalid"),
    (AmbiguousId, 409, "ambiguous-id"),
    (InvalidRequest, 422, "invalid-request"),
    (ForkOutOfRange, 409, "fork-out-of-range"),
    (BranchBusy, 409, "branch-busy"),
    (BranchFinished, 409, "branch-done"),
    (ExpressionFailed, 422, "expression-failed"),
    (Conflict, 409, "conflict"),
    (NoWorker, 503, "no-worker"),
    (StoreUnavailable, 503, "store-busy"),
    (StoreError, 503, "store-unavailable"),
    (ProviderUnavailable, 503, "model-provider-unavailable"),
    (ProviderError, 502, "model-provider-failed"),
)


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        errors: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or _TITLES.get(status, "error").lower().replace(" ", "-")
        self.errors = [dict(e) for e in errors]
        self.headers = dict(headers or {})


def problem_body(
    status: int, detail: str, *, slug: str, errors: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    return {
        "type": TYPE_BASE + slug,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "errors": [dict(e) for e in errors],
    }


def problem_response(
    status: int,
    detail: str,
    *,
    slug: str,
    errors: Sequence[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, detail, slug=slug, errors=errors),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def from_error(exc: AegntixError) -> JSONResponse:
    """The problem response of a project error (see :func:`as_problem`)."""
    problem = as_problem(exc)
    return problem_response(
        problem.status,
        problem.detail,
        slug=problem.slug,
        errors=problem.errors,
        headers=problem.headers,
    )


def as_problem(exc: AegntixError) -> Problem:
    """The problem a project error answers with: a transient one says when to retry
    (``Retry-After``); an invalid request names its ``field`` in ``errors``. REST and the MCP
    tools both answer with it."""
    status, slug = next(
        ((st, sl) for cls, st, sl in _MAPPING if isinstance(exc, cls)), (500, "internal")
    )
    headers = {"Retry-After": str(exc.retry_after)} if exc.transient and exc.retry_after else {}
    if isinstance(exc, ScenarioInvalid):  # every problem, each with field, reason, line
        return Problem(status, str(exc), slug=slug, errors=[p.as_json() for p in exc.problems])
    detail = printable(str(exc))  # user input quoted in a message never reaches a page raw
    errors: list[dict[str, Any]] = []
    if isinstance(exc, InvalidRequest | ExpressionFailed):
        errors.append(_field_error(exc, detail))
    return Problem(status, detail, slug=slug, errors=errors, headers=headers)


def _field_error(exc: InvalidRequest | ExpressionFailed, detail: str) -> dict[str, Any]:
    """``{field, reason}`` of an invalid request: the field the error names, else the one
    its message starts with (``seed: must be …``); ``field`` is null only when the request
    as a whole is wrong (two options that exclude each other)."""
    if isinstance(exc, ExpressionFailed):
        return {"field": exc.field, "reason": printable(exc.reason)}
    if exc.field:
        prefix = f"{printable(exc.field)}: "
        reason = detail.removeprefix(prefix)
        return {"field": printable(exc.field), "reason": reason}
    field, sep, reason = detail.partition(": ")
    if sep and " " not in field:
        return {"field": field, "reason": reason}
    return {"field": None, "reason": detail}


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:] or parts
    return ".".join(parts)


def _validation(exc: RequestValidationError) -> JSONResponse:
    problem = validation_problem(exc.errors())
    return problem_response(422, problem.detail, slug=problem.slug, errors=problem.errors)


def validation_problem(found: Sequence[Mapping[str, Any]]) -> Problem:
    """The 422 problem of pydantic validation errors, each as ``{field, reason}``."""
    errors = [
        {"field": _field(e.get("loc", ())), "reason": str(e.get("msg", "invalid"))} for e in found
    ]
    first = errors[0] if errors else {"field": "", "reason": "invalid request"}
    detail = f"{first['field']}: {first['reason']}" if first["field"] else first["reason"]
    return Problem(422, detail, slug="validation", errors=errors)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""

    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(
            exc.status, exc.detail, slug=exc.slug, errors=exc.errors, headers=exc.headers
        )

    async def on_aegntix(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AegntixError)
        return from_error(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _validation(exc)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "")
        slug = _TITLES.get(exc.status_code, "error").lower().replace(" ", "-")
        return problem_response(
            exc.status_code, detail, slug=slug, headers=getattr(exc, "headers", None)
        )

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path, error=repr(exc))
        return problem_response(500, "an unexpected error occurred", slug="internal")

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(AegntixError, on_aegntix)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
