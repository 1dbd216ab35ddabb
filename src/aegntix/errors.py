"""The project's exception hierarchy.

Every error a user can cause derives from :class:`AegntixError`; the CLI maps them to one
readable line and a non-zero exit code, the API (later) to problem-details responses.
"""

from __future__ import annotations


class AegntixError(Exception):
    """Base class of every AegntiX error."""

    exit_code = 1


class ScenarioInvalid(AegntixError):
    """A scenario file cannot be parsed or does not validate."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.reason = message
        where = file or "<scenario>"
        if line is not None:
            where += f":{line}"
        prefix = f"{where}: "
        if field:
            prefix += f"{field}: "
        super().__init__(prefix + message)


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
    """The branch is being run by someone else."""

    exit_code = 5


class InvalidRequest(AegntixError):
    """An argument is malformed (unknown agent, bad strategy, bad value)."""

    exit_code = 2


class AmbiguousId(InvalidRequest):
    """An id prefix is the start of more than one id (of the caller's tenant): the API
    answers 409, the CLI exits 2; more characters of the id resolve it."""


class IntegrityError(AegntixError):
    """The timeline's hash chain or sequence is broken."""

    exit_code = 6


class StoreError(AegntixError):
    """The timeline store could not complete an operation."""

    exit_code = 7


class KeyNotFound(NotFound):
    """No API key with that id (in this tenant)."""


class ProfileNotFound(NotFound):
    """No persistent agent with that id (in this tenant)."""


class Conflict(AegntixError):
    """The request contradicts what is already recorded (a profile id in use, a scenario
    whose experience a persistent agent already keeps)."""

    exit_code = 5


class ProviderError(AegntixError):
    """A model provider failed (after retries) or is misconfigured (missing key, bad
    endpoint). The message never contains an API key."""

    exit_code = 8
