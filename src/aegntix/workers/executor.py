"""The ``Executor``: what runs branches for the API, behind one interface.

Two implementations: the in-process :class:`~aegntix.server.runs.RunManager` (the embedded
default: runs inside the server's event loop, exactly as before) and the
:class:`~aegntix.workers.remote.QueueExecutor` (PostgreSQL: runs become slice jobs on the
procrastinate queue that ``aegntix worker`` processes execute; the API keeps no run state).
Routes and the stream only see this protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aegntix.engine.runner import StepResult
from aegntix.model.events import Failure
from aegntix.timeline.leases import RunLeases
from aegntix.timeline.tenancy import TenantStore

#: Status of a started run that waits for a worker.
QUEUED = "queued"
#: What a client is told when a run is queued and no worker is alive.
NO_WORKER_HINT = (
    "no worker is running: start `aegntix worker --db …` (or `aegntix serve --workers N`)"
)


@dataclass(frozen=True, slots=True)
class RunState:
    branch_id: str
    status: str
    running: bool
    head_seq: int
    head_step: int
    failure: Failure | None = None


class Executor(Protocol):
    #: The run leases of the store (reads of a branch with its lease).
    leases: RunLeases

    async def start(self, store: TenantStore, branch_id: str, steps: int | None = None) -> str:
        """Start or resume; the status (``running``, or ``queued`` while no worker is alive).
        ``BranchNotFound`` for a foreign id, ``BranchBusy`` if it already runs."""
        ...

    async def pause(self, store: TenantStore, branch_id: str) -> str:
        """Stop after the step in progress (``pausing``); ``BranchBusy`` if not running."""
        ...

    async def cancel(self, branch_id: str) -> bool:
        """Stop now, dropping the step in progress (the branch ends ``paused``); False if
        it is not running."""
        ...

    async def step(self, store: TenantStore, branch_id: str) -> StepResult | None:
        """Exactly one step, answered with its events; None if the branch terminated."""
        ...

    async def status(self, store: TenantStore, branch_id: str) -> RunState:
        """The branch's status from one consistent read."""
        ...

    async def running(self, branch_id: str) -> bool:
        """Running anywhere."""
        ...

    async def stop_scenario(self, branch_ids: list[str]) -> None:
        """Cancel these branches' runs (their scenario is being deleted)."""
        ...

    async def close(self, timeout: float = 5.0) -> None: ...
