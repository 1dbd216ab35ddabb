"""The project's exception hierarchy.

Every error a user can cause derives from :class:`AegntixError`; the CLI maps them to one
readable line and a non-zero exit code, the API to problem-details responses.

Each class says whether it is **transient** (``transient = True``: the same request may
succeed if retried later, so workers retry it and the API sends ``Retry-After``) or
**permanent** (retrying the same request fails the same way). The tree (T = transient,
exit code in brackets)::

    AegntixError [1]
    ├── InternalError [70]            a bug; details only in the log
    ├── ScenarioInvalid [2]           a scenario file that does not parse or validate
    ├── ExpressionFailed [2]          an expression failing at run time (division by zero)
    ├── InvalidRequest [2]            a malformed argument
    │   └── AmbiguousId [2]           an id prefix matching several ids
    ├── NotFound [3]                  ScenarioNotFound, BranchNotFound, KeyNotFound,
    │                                 ProfileNotFound, RolloutSetNotFound
    ├── ForkOutOfRange [4]            a step the branch has not reached
    ├── BranchBusy [75] T             another runner or writer holds the branch
    │   └── HeadMoved [75] T          another process appended while we wrote
    ├── BranchFinished [5]            nothing more runs on the branch
    ├── Conflict [5]                  contradicts what is recorded
    ├── IntegrityError [6]            the hash chain is broken
    ├── StoreError [7]                the database cannot be used (bad file, bad URL)
    │   └── StoreUnavailable [75] T   locked, busy, connection lost, deadlock, serialization
    ├── ProviderError [8]             a model provider refuses or is misconfigured
    │   └── ProviderUnavailable [75] T  no server answering; timeouts / rate limits / 5xx
    │                                   through every retry
    ├── ToolError [9]                 a scenario's tools cannot be used as declared
    │   ├── ToolNotAllowed [9]        a tool outside an agent's allow-list, or a server
    │   │                             command/URL this host does not permit
    │   ├── ToolSecretMissing [9]     a ``secret:NAME`` the tools need is not set
    │   └── ToolNotListed [9]         an allow-list or action names a tool the server
    │                                 does not list (found when the run starts)
    ├── NoWorker [75] T               work queued, but no worker process is alive
    ├── PortInUse [1], MissingExtra [1]
    └── RunFailed [the cause's]       a run stopped; the branch records why

Every transient error exits with :data:`TRANSIENT_EXIT_CODE` (75, ``EX_TEMPFAIL``), so a
script can tell "try again" from "fix the input".
:class:`ScenarioInvalid` carries every :class:`Problem` found (the CLI prints one line each,
the API lists them in ``errors``); :class:`ExpressionFailed` is a scenario expression failing
at run time. :func:`printable` escapes control characters in anything echoed back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

#: Characters never shown raw in an error line: C0/C1 controls (ESC starts terminal
#: escape sequences), DEL, bidi embeddings/overrides/isolates, line separators, surrogates.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` with characters that could rewrite a terminal or a page escaped
    (``\\x1b``, ``\\u202e``): errors quote user input and must stay one honest line."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


#: The CLI's exit code for every transient error (sysexits.h EX_TEMPFAIL).
TRANSIENT_EXIT_CODE = 75


class AegntixError(Exception):
    """Base class of every AegntiX error."""

    exit_code = 1
    #: Retrying the same request later may succeed (see the module docstring).
    transient: ClassVar[bool] = False
    #: Seconds a client should wait before retrying (the API's ``Retry-After``).
    retry_after: ClassVar[int | None] = None


def reason_of(error: BaseException) -> str:
    """What went wrong, in the words a user reads (the error's message, else its type)."""
    return str(error) or type(error).__name__


def is_transient(error: BaseException) -> bool:
    """Whether retrying what raised ``error`` may succeed (a worker's retry decision)."""
    return isinstance(error, AegntixError) and error.transient


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a scenario: where (file, line, field) and why. ``context`` is
    extra detail (a YAML parser's surrounding text) shown only on request (``--json``,
    ``--verbose``), never in the one-line form."""

    reason: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    context: str | None = None

    def __str__(self) -> str:
        where = self.file or "<scenario>"
        if self.line is not None:
            where += f":{self.line}"
        prefix = f"{where}: "
        if self.field:
            prefix += f"{self.field}: "
        return printable(prefix + self.reason)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "reason": printable(self.reason)}
        if self.line is not None:
            out["line"] = self.line
        if self.file is not None:
            out["file"] = self.file
        if self.context:
            out["context"] = self.context
        return out


class InternalError(AegntixError):
    """Something unexpected broke (a bug, not the user's input). The message is generic on
    purpose: the details go to the log, never to a client."""

    exit_code = 70


class ScenarioInvalid(AegntixError):
    """A scenario file cannot be parsed or does not validate. ``problems`` lists every
    problem found (at least one); ``file``/``line``/``field``/``reason`` are the first's."""

    exit_code = 2

    def __init__(
        self,
        message: str = "",
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        problems: Sequence[Problem] = (),
        context: str | None = None,
    ) -> None:
        self.problems: list[Problem] = list(problems) or [
            Problem(message, file=file, line=line, field=field, context=context)
        ]
        first = self.problems[0]
        self.file, self.line, self.field = first.file, first.line, first.field
        self.reason = first.reason
        if len(self.problems) == 1:
            text = str(first)
        else:
            # One line naming every problem; the CLI and the API list them one by one.
            parts = "; ".join(_brief(p) for p in self.problems)
            text = f"{first.file or '<scenario>'}: {len(self.problems)} problems: {parts}"
        super().__init__(text)


def _brief(problem: Problem) -> str:
    where = f"line {problem.line}: " if problem.line is not None else ""
    field = f"{problem.field}: " if problem.field else ""
    return printable(where + field + problem.reason)


class ExpressionFailed(AegntixError):
    """An expression failed at run time (division by zero, overflow, bad types, a result
    too large). ``expression`` is its text, ``field`` where it came from
    (``dynamics.budget``, ``outcomes.price``), ``reason`` what went wrong."""

    exit_code = 2

    def __init__(
        self, reason: str, *, expression: str | None = None, field: str | None = None
    ) -> None:
        self.reason = reason
        self.expression = expression
        self.field = field
        text = reason
        if expression is not None:
            text = f"'{expression}': {text}"
        if field:
            text = f"{field}: {text}"
        super().__init__(printable(text))


class NotFound(AegntixError):
    """Something referenced by id does not exist (or belongs to someone else)."""

    exit_code = 3


class ScenarioNotFound(NotFound):
    """No scenario with that id."""


class BranchNotFound(NotFound):
    """No branch with that id."""


class ForkOutOfRange(AegntixError):
    """A fork or injection names a step the branch has not reached (or a negative one)."""

    exit_code = 4


class BranchBusy(AegntixError):
    """The branch is being run (or appended to) by someone else: transient."""

    exit_code = TRANSIENT_EXIT_CODE
    transient = True
    retry_after = 1


class HeadMoved(BranchBusy):
    """A branch's head in the database is not the one the writer had cached: another process
    appended. The writer retries its batch with fresh heads; a caller sees this only if the
    branch kept moving through every retry."""


class BranchFinished(AegntixError):
    """The branch has reached its end: nothing more will run on it (fork it instead)."""

    exit_code = 5


class InvalidRequest(AegntixError):
    """An argument is malformed (unknown agent, bad strategy, bad value). ``field`` names
    it (``events.3``, ``seed``) when the message does not start with ``field: ``; the API
    lists it in ``errors``."""

    exit_code = 2

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AmbiguousId(InvalidRequest):
    """An id prefix is the start of more than one id (of the caller's tenant): the API
    answers 409, the CLI exits 2; more characters of the id resolve it."""


class IntegrityError(AegntixError):
    """The timeline's hash chain or sequence is broken."""

    exit_code = 6


class StoreError(AegntixError):
    """The timeline store cannot be used (a file that is not a database, a bad URL, a
    missing table): permanent until someone fixes it."""

    exit_code = 7


class StoreUnavailable(StoreError):
    """The database is there but cannot answer now (locked, busy, connection refused or
    lost, deadlock, serialization failure): transient."""

    exit_code = TRANSIENT_EXIT_CODE
    transient = True
    retry_after = 1


class KeyNotFound(NotFound):
    """No API key with that id (in this tenant)."""


class ProfileNotFound(NotFound):
    """No persistent agent with that id (in this tenant)."""


class RolloutSetNotFound(NotFound):
    """No rollout set with that id (in this tenant)."""


class Conflict(AegntixError):
    """The request contradicts what is already recorded (a profile id in use, a scenario
    whose experience a persistent agent already keeps)."""

    exit_code = 5


class ProviderError(AegntixError):
    """A model provider failed (after retries) or is misconfigured (missing key, bad
    endpoint). The message never contains an API key."""

    exit_code = 8


class ProviderUnavailable(ProviderError):
    """No model server answers (connection refused, unknown host, connect timeout), or a
    provider kept failing in a way worth retrying (timeouts, rate limits, 5xx) through every
    attempt: transient."""

    exit_code = TRANSIENT_EXIT_CODE
    transient = True
    retry_after = 5


class ToolError(AegntixError):
    """A scenario's tools cannot be used as declared. A tool server's own faults (down,
    timeout, a malformed result) are never raised: they are recorded as a call's error."""

    exit_code = 9


class ToolNotAllowed(ToolError):
    """An agent called a tool its allow-list (``agents[].tools``) does not cover, or a
    scenario declares a server command or URL this host does not permit."""


class ToolSecretMissing(ToolError):
    """A ``secret:NAME`` in a tool server's env or headers is set neither in the environment
    nor in the secrets file. The message names the secret, never a value."""


class ToolNotListed(ToolError):
    """An allow pattern or a tool-bound action names a tool its server does not list."""


class NoWorker(AegntixError):
    """Work that needs a worker process (``aegntix worker``) while none is alive: transient,
    it succeeds once one runs."""

    exit_code = TRANSIENT_EXIT_CODE
    transient = True
    retry_after = 5


class PortInUse(AegntixError):
    """The TCP port a server should listen on is taken (or may not be bound here)."""


class RunFailed(AegntixError):
    """A run stopped on an error; the branch is ``failed`` with the reason recorded. Its
    exit code is the original error's."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class MissingExtra(AegntixError):
    """An optional feature needs a package that is not installed (e.g. pandas for
    ``.to_pandas()``); the message names the extra to install."""
