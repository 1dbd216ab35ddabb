"""The ``Store`` contract: what the engine, CLI and server need from a timeline backend.

Backends (``sqlite.py`` now, ``postgres.py`` later) implement exactly this. Everything in it
is expressible in portable SQL; algorithms that only combine these primitives (state at a
step, compare, verify) live in their own modules and work on any backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aegntix.model.events import Branch, BranchStatus, Event, Failure, NewEvent, ScenarioRecord
from aegntix.model.state import State


@dataclass(frozen=True, slots=True)
class Snapshot:
    branch_id: str  # the lineage member whose row holds it
    seq: int  # state after applying events 1..seq of the logical sequence
    step: int
    state: State


class Store(Protocol):
    """A timeline backend. All methods are thread-safe; ``append`` is group-committed."""

    # -- scenarios -------------------------------------------------------------------------
    def create_scenario(
        self, name: str, spec: dict[str, Any], *, tenant_id: str = "default"
    ) -> ScenarioRecord: ...

    def get_scenario(self, scenario_id: str) -> ScenarioRecord:
        """Raises ``ScenarioNotFound``."""
        ...

    def list_scenarios(self) -> list[ScenarioRecord]: ...

    # -- branches --------------------------------------------------------------------------
    def create_branch(
        self, scenario_id: str, *, seed: int, label: str = "main", tenant_id: str = "default"
    ) -> Branch:
        """A root branch (no parent, empty) of the tenant's scenario (another tenant's
        scenario raises ``ScenarioNotFound``, as a missing one does)."""
        ...

    def fork(
        self, parent_id: str, at_step: int, *, seed: int | None = None, label: str | None = None
    ) -> Branch:
        """One new row inheriting the parent's events with ``step <= at_step`` (and its
        tenant); O(1) in history size. ``seed`` defaults to the parent's. Raises ``BranchNotFound``,
        ``ForkOutOfRange`` (``at_step`` < 0 or past the parent's head step)."""
        ...

    def get_branch(self, branch_id: str) -> Branch:
        """Raises ``BranchNotFound``."""
        ...

    def list_branches(self, scenario_id: str | None = None) -> list[Branch]:
        """Oldest first."""
        ...

    def lineage(self, branch_id: str) -> list[Branch]:
        """The branch, its parent, … up to the root."""
        ...

    def set_status(
        self, branch_id: str, status: BranchStatus, *, failure: Failure | None = None
    ) -> None:
        """``failure``: why a ``failed`` branch failed (kept until the status changes)."""
        ...

    # -- events ----------------------------------------------------------------------------
    def append(
        self, branch_id: str, events: Sequence[NewEvent], *, expect_seq: int | None = None
    ) -> list[Event]:
        """Append atomically (all or none) after the head and return them with seq and hash.
        When it returns, the events are durable (survive ``kill -9``). ``expect_seq``, if
        given, must equal the current head seq (optimistic concurrency; else ``BranchBusy``)."""
        ...

    async def append_async(
        self, branch_id: str, events: Sequence[NewEvent], *, expect_seq: int | None = None
    ) -> list[Event]:
        """``append`` without blocking the event loop."""
        ...

    def events(
        self,
        branch_id: str,
        *,
        from_seq: int = 1,
        to_seq: int | None = None,
        from_step: int | None = None,
        to_step: int | None = None,
    ) -> Iterator[Event]:
        """The logical sequence (ancestors' events up to each fork point, then the branch's
        own), in seq order, filtered by the inclusive bounds given. Streams: never loads the
        whole history at once."""
        ...

    def seq_at_step(self, branch_id: str, step: int) -> int:
        """The last seq whose step is ``<= step`` in the logical sequence (0 if none)."""
        ...

    def latest_snapshot(self, branch_id: str, max_seq: int) -> Snapshot | None:
        """The newest snapshot on the lineage with ``seq <= max_seq`` (within each member's
        inherited range)."""
        ...

    def close(self) -> None: ...
