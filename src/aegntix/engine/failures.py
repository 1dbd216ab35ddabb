"""Why a run failed, as users see it: a :class:`~aegntix.model.events.Failure` built from the
exception that stopped a step, one readable line with no secret and no internals.

Project errors (``AegntixError``) are the user's to fix and keep their message; anything else
is a bug: its reason is generic here and logged in full by whoever caught it.
"""

from __future__ import annotations

import re

from aegntix.errors import AegntixError, InternalError
from aegntix.model.events import Failure

#: Longest detail kept (a reason is one line, not a dump).
MAX_DETAIL = 400
INTERNAL_DETAIL = "an unexpected internal error stopped the step (details are in the log)"

# Things that look like credentials, whatever produced the message: provider keys (sk-…,
# sk-ant-…), our API keys (agx_<id>_<secret>), bearer tokens, key=value secrets.
_SECRETS = (
    re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"\bagx_[A-Za-z0-9]+_[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]+=*"),
    re.compile(r"(?i)\b(api[_-]?key|token|secret|password)(\s*[=:]\s*)\S+"),
)


def scrub(text: str) -> str:
    """``text`` on one line, without credential-looking strings, at most MAX_DETAIL long."""
    line = " ".join(text.split())
    for pattern in _SECRETS:
        line = pattern.sub(_redacted, line)
    if len(line) > MAX_DETAIL:
        line = line[: MAX_DETAIL - 1] + "…"
    return line


def _redacted(match: re.Match[str]) -> str:
    if match.re.groups >= 2 and match.group(2) is not None:  # key=value: keep the name
        return f"{match.group(1)}{match.group(2)}[redacted]"
    return "[redacted]"


def failure_from(exc: BaseException, step: int) -> Failure:
    """The recorded reason of a step that raised ``exc``."""
    if isinstance(exc, AegntixError) and not isinstance(exc, InternalError):
        kind = _public_type(type(exc))
        return Failure(kind, scrub(str(exc)) or kind, step)
    return Failure(InternalError.__name__, INTERNAL_DETAIL, step)


def _public_type(cls: type[AegntixError]) -> str:
    """The nearest class of the documented tree in ``errors.py`` (a module's private
    subclass, e.g. ``ProviderMisconfigured``, reports as its ``ProviderError``)."""
    for base in cls.__mro__:
        if base.__module__ == AegntixError.__module__:
            return base.__name__
    return AegntixError.__name__


def as_project_error(exc: BaseException) -> AegntixError:
    """``exc`` if it is a project error, else a generic :class:`InternalError` (the original
    is kept as its cause for the log)."""
    if isinstance(exc, AegntixError):
        return exc
    error = InternalError(INTERNAL_DETAIL)
    error.__cause__ = exc
    return error
