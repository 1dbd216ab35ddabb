"""Tokens and cost: per call, summed per agent, branch, scenario and tenant.

Two views, both exact:

- **recorded** — what the decisions in a branch's timeline cost when they were made, read
  from its ``decision`` events (inherited steps included: the cost of this future). A fork
  with no intervention records the same figures as its parent (invariant 3).
- **billed** — provider calls actually paid for, read from the ``llm_cache`` ledger (one row
  per paid call, attributed to the scenario, branch and agent that made it). A fork served
  from the cache bills nothing.

``usage_for(store, branch_id)`` is what the CLI (``aegntix usage``), the API and the UI show.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from aegntix.brains.replies import UsageLedger
from aegntix.model.events import EventKind
from aegntix.model.scenario import Prices
from aegntix.repository import database_of
from aegntix.tenant_data import TenantData
from aegntix.timeline.store import Store


class _NoLedger:
    """The ledger of a store without a database: nothing was billed."""

    def billed(self, **where: str) -> dict[str, Any]:
        return {"calls": 0, "tokens_in": 0, "tokens_out": 0, "cost": 0.0}

    def grouped(self, by: str, **where: str) -> dict[str, dict[str, Any]]:
        return {}


def ledger_for(store: Store, tenant_id: str) -> UsageLedger:
    """``tenant_id``'s ledger in ``store``'s database."""
    database = database_of(store)
    return _NoLedger() if database is None else TenantData(database, tenant_id).usage


def call_cost(prices: Prices, tokens_in: int, tokens_out: int) -> float:
    """The cost of one call at ``prices`` (per 1,000 tokens)."""
    return round(tokens_in * prices.input / 1000 + tokens_out * prices.output / 1000, 10)


@dataclass(slots=True)
class Usage:
    decisions: int = 0  # model-backed decisions
    calls: int = 0  # model calls they rest on (a repair is a second call)
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    fallbacks: int = 0  # decisions the rules brain made instead
    reflections: int = 0  # reflections the model made (memory on); their calls count too

    def add_decision(self, payload: dict[str, Any]) -> None:
        """Add a ``decision`` event: a decision, or (``purpose: reflect``) a reflection."""
        if payload.get("purpose") == "reflect":
            self.reflections += 1
        else:
            self.decisions += 1
            self.fallbacks += payload.get("fallback") is not None
        self.calls += len(payload.get("calls", ()))
        self.tokens_in += int(payload.get("tokens_in", 0))
        self.tokens_out += int(payload.get("tokens_out", 0))
        self.cost = round(self.cost + float(payload.get("cost", 0.0)), 10)

    def plus(self, other: Usage) -> Usage:
        return Usage(
            self.decisions + other.decisions,
            self.calls + other.calls,
            self.tokens_in + other.tokens_in,
            self.tokens_out + other.tokens_out,
            round(self.cost + other.cost, 10),
            self.fallbacks + other.fallbacks,
            self.reflections + other.reflections,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def recorded_usage(store: Store, branch_id: str, *, from_seq: int = 1) -> dict[str, Usage]:
    """Per agent, from the ``decision`` events of a branch's timeline (from ``from_seq``)."""
    per_agent: dict[str, Usage] = {}
    for event in store.events(branch_id, from_seq=from_seq):
        if event.kind == EventKind.DECISION:
            per_agent.setdefault(event.agent_id or "", Usage()).add_decision(event.payload)
    return dict(sorted(per_agent.items()))


def billed_by_branch(store: Store, tenant_id: str) -> dict[str, dict[str, Any]]:
    """The ledger summed per branch of a tenant (an overview of every branch)."""
    return ledger_for(store, tenant_id).grouped("branch_id")


def usage_for(store: Store, branch_id: str) -> dict[str, Any]:
    """A branch's usage as plain JSON: recorded per agent and in total, billed for the
    branch (per agent and in total), its scenario and its tenant. ``store`` may be a
    tenant-scoped store: a foreign branch raises ``BranchNotFound`` as a missing one does."""
    branch = store.get_branch(branch_id)
    tenant = branch.tenant_id
    ledger = ledger_for(store, tenant)
    agents = recorded_usage(store, branch.id)
    total = Usage()
    for usage in agents.values():
        total = total.plus(usage)
    own = Usage()
    for usage in recorded_usage(store, branch.id, from_seq=branch.fork_seq + 1).values():
        own = own.plus(usage)
    return {
        "branch_id": branch.id,
        "label": branch.label,
        "scenario_id": branch.scenario_id,
        "tenant_id": tenant,
        "fork_step": branch.fork_step,
        "recorded": {
            "agents": {k: v.as_dict() for k, v in agents.items()},
            "total": total.as_dict(),
            "own": own.as_dict(),  # after the fork point only
        },
        "billed": {
            "agents": ledger.grouped("agent_id", branch_id=branch.id),
            "branch": ledger.billed(branch_id=branch.id),
            "scenario": ledger.billed(scenario_id=branch.scenario_id),
            "tenant": ledger.billed(),
        },
    }
