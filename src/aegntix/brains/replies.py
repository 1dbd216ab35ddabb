"""What the response cache stores, and the repositories of those rows (one tenant's each):
:class:`ReplyRepository` for the cache, :class:`UsageLedger` for the spend they record. The
SQL implementations are in :mod:`aegntix.brains.llm_rows`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from aegntix.timeline.schema import DEFAULT_TENANT


@dataclass(frozen=True, slots=True)
class CachedReply:
    text: str
    tokens_in: int
    tokens_out: int


@dataclass(frozen=True, slots=True)
class Payer:
    """Who made a call: the cache row and the spend ledger name them."""

    tenant_id: str = DEFAULT_TENANT
    scenario_id: str | None = None
    branch_id: str | None = None
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class PaidCall:
    """A reply just paid for: what it cost and who served it."""

    provider: str
    model: str
    reply: CachedReply
    cost: float


class ReplyRepository(Protocol):
    """One tenant's cached replies, by request digest."""

    def find(self, key: str) -> CachedReply | None: ...

    def add(self, key: str, call: PaidCall, payer: Payer) -> bool:
        """Store a paid call; False if the key already had a row (which stays as it was:
        one row per key even when two writers race)."""
        ...


class UsageLedger(Protocol):
    """One tenant's paid calls (the SQL one is :class:`~aegntix.brains.llm_rows.SqlUsageLedger`):
    sums of calls, tokens and cost over the rows matching ``where`` (column = value)."""

    def billed(self, **where: str) -> dict[str, Any]: ...

    def grouped(self, by: str, **where: str) -> dict[str, dict[str, Any]]:
        """The sums per value of column ``by``."""
        ...
