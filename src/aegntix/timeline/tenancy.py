"""``TenantStore``: the one tenant-scoped path to the timeline (DESIGN §6, invariant 6).

It wraps a :class:`SqlStore` for one tenant and implements the :class:`Store` contract, so the
engine (``Runner``, ``inject``, ``state_at``, ``compare``) runs on it unchanged. Every read
checks the row's tenant and answers a foreign id with the same ``BranchNotFound`` /
``ScenarioNotFound`` as a missing one; lists filter by tenant; creates stamp it. A deleted
scenario (soft delete: its events stay, append-only) and its branches are invisible.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from aegntix.errors import BranchNotFound, InvalidRequest, NotFound, ScenarioNotFound
from aegntix.model.events import Branch, BranchStatus, Event, Failure, NewEvent, ScenarioRecord
from aegntix.timeline import queries as q
from aegntix.timeline.ids import resolve_id
from aegntix.timeline.schema import branches, scenarios
from aegntix.timeline.sqlstore import SqlStore, scenario_from_row, tenant_name
from aegntix.timeline.store import Snapshot, Store

_VISIBLE = scenarios.c.deleted_at.is_(None)
_BRANCH = (
    select(branches)
    .join(scenarios, scenarios.c.id == branches.c.scenario_id)
    .where(branches.c.id == bindparam("bid"), branches.c.tenant_id == bindparam("t"), _VISIBLE)
)


def _live_branches() -> Any:
    """Branches as they stand (lease-aware status) whose scenario is not deleted."""
    query = q.live_branches(time.time()).join(scenarios, scenarios.c.id == branches.c.scenario_id)
    return query.where(_VISIBLE)


_SCENARIO = select(scenarios).where(
    scenarios.c.id == bindparam("sid"), scenarios.c.tenant_id == bindparam("t"), _VISIBLE
)
_BRANCH_IDS = (
    select(branches.c.id)
    .join(scenarios, scenarios.c.id == branches.c.scenario_id)
    .where(branches.c.tenant_id == bindparam("t"), _VISIBLE)
)
_SCENARIO_IDS = select(scenarios.c.id).where(scenarios.c.tenant_id == bindparam("t"), _VISIBLE)


class TenantStore:
    """A :class:`Store` that sees and writes one tenant's data only. Thread-safe."""

    def __init__(self, store: SqlStore, tenant_id: str) -> None:
        self._store = store
        self._tenant = tenant_name(tenant_id)
        # Branches checked visible through this instance (a branch's tenant never changes).
        # Hot paths (append, event pages) use it; get_branch/get_scenario always re-check.
        self._owned: set[str] = set()

    @property
    def tenant_id(self) -> str:
        return self._tenant

    @property
    def backend(self) -> SqlStore:
        """The unscoped store: for the server's plumbing, never for tenant data."""
        return self._store

    def _same_tenant(self, tenant_id: str | None) -> None:
        if tenant_id is not None and tenant_id != self._tenant:
            raise InvalidRequest("tenant_id: a tenant-scoped store writes its own tenant only")

    def _check(self, branch_id: str) -> None:
        if branch_id not in self._owned:
            self.get_branch(branch_id)

    # -- scenarios -------------------------------------------------------------------------
    def create_scenario(
        self, name: str, spec: dict[str, Any], *, tenant_id: str | None = None
    ) -> ScenarioRecord:
        self._same_tenant(tenant_id)
        return self._store.create_scenario(name, spec, tenant_id=self._tenant)

    def get_scenario(self, scenario_id: str) -> ScenarioRecord:
        with self._store.reading() as conn:
            row = conn.execute(_SCENARIO, {"sid": scenario_id, "t": self._tenant}).first()
        if row is None:
            raise ScenarioNotFound(f"no scenario '{scenario_id}'")
        return scenario_from_row(row._mapping)

    def resolve_scenario(self, ref: str) -> str:
        """The id of this tenant's scenario ``ref`` names: its id or a unique prefix (4+
        characters). Another tenant's ids resolve exactly as missing ones do (404)."""
        return self._resolve(_SCENARIO_IDS, scenarios.c.id, ref, "scenario", ScenarioNotFound)

    def list_scenarios(self) -> list[ScenarioRecord]:
        query = (
            select(scenarios)
            .where(scenarios.c.tenant_id == self._tenant, _VISIBLE)
            .order_by(scenarios.c.created_at, scenarios.c.id)
        )
        with self._store.reading() as conn:
            return [scenario_from_row(r._mapping) for r in conn.execute(query)]

    def delete_scenario(self, scenario_id: str) -> None:
        """Soft delete: the scenario and its branches disappear; no event is removed."""
        self.get_scenario(scenario_id)
        stmt = (
            update(scenarios)
            .where(scenarios.c.id == scenario_id, scenarios.c.tenant_id == self._tenant, _VISIBLE)
            .values(deleted_at=datetime.now(UTC))
        )

        def op(conn: Connection) -> None:
            conn.execute(stmt)

        self._store.write(op)
        self._owned.clear()

    # -- branches --------------------------------------------------------------------------
    def create_branch(
        self, scenario_id: str, *, seed: int, label: str = "main", tenant_id: str | None = None
    ) -> Branch:
        self._same_tenant(tenant_id)
        self.get_scenario(scenario_id)  # deleted scenarios get no new branches
        branch = self._store.create_branch(
            scenario_id, seed=seed, label=label, tenant_id=self._tenant
        )
        self._owned.add(branch.id)
        return branch

    def fork(
        self, parent_id: str, at_step: int, *, seed: int | None = None, label: str | None = None
    ) -> Branch:
        self.get_branch(parent_id)
        branch = self._store.fork(parent_id, at_step, seed=seed, label=label)
        self._owned.add(branch.id)
        return branch

    def get_branch(self, branch_id: str) -> Branch:
        if not isinstance(branch_id, str):
            raise BranchNotFound(f"no branch '{branch_id}'")
        with self._store.reading() as conn:
            row = conn.execute(_BRANCH, {"bid": branch_id, "t": self._tenant}).first()
        if row is None:
            self._owned.discard(branch_id)
            raise BranchNotFound(f"no branch '{branch_id}'")
        self._owned.add(branch_id)
        return q.row_to_branch(row)

    def resolve_branch(self, ref: str) -> str:
        """The id of this tenant's branch ``ref`` names: its id or a unique prefix (4+
        characters). Another tenant's ids resolve exactly as missing ones do (404)."""
        return self._resolve(_BRANCH_IDS, branches.c.id, ref, "branch", BranchNotFound)

    def _resolve(self, ids: Any, column: Any, ref: str, what: str, missing: type[NotFound]) -> str:
        """``ref`` (an id or a unique 4+ character prefix) among this tenant's ``ids``."""
        with self._store.reading() as conn:
            return resolve_id(
                conn, ids.params(t=self._tenant), column, ref, what=what, missing=missing
            )

    def list_branches(self, scenario_id: str | None = None) -> list[Branch]:
        query = _live_branches().where(branches.c.tenant_id == self._tenant)
        if scenario_id is not None:
            query = query.where(branches.c.scenario_id == scenario_id)
        with self._store.reading() as conn:
            return [q.row_to_branch(r) for r in conn.execute(query)]

    def lineage(self, branch_id: str) -> list[Branch]:
        self._check(branch_id)
        return self._store.lineage(branch_id)

    def set_status(
        self, branch_id: str, status: BranchStatus, *, failure: Failure | None = None
    ) -> None:
        self._check(branch_id)
        self._store.set_status(branch_id, status, failure=failure)

    # -- events ----------------------------------------------------------------------------
    def append(
        self, branch_id: str, events: Sequence[NewEvent], *, expect_seq: int | None = None
    ) -> list[Event]:
        self._check(branch_id)
        return self._store.append(branch_id, events, expect_seq=expect_seq)

    async def append_async(
        self, branch_id: str, events: Sequence[NewEvent], *, expect_seq: int | None = None
    ) -> list[Event]:
        self._check(branch_id)
        return await self._store.append_async(branch_id, events, expect_seq=expect_seq)

    def events(
        self,
        branch_id: str,
        *,
        from_seq: int = 1,
        to_seq: int | None = None,
        from_step: int | None = None,
        to_step: int | None = None,
    ) -> Iterator[Event]:
        self._check(branch_id)
        return self._store.events(
            branch_id, from_seq=from_seq, to_seq=to_seq, from_step=from_step, to_step=to_step
        )

    def seq_at_step(self, branch_id: str, step: int) -> int:
        self._check(branch_id)
        return self._store.seq_at_step(branch_id, step)

    def latest_snapshot(self, branch_id: str, max_seq: int) -> Snapshot | None:
        self._check(branch_id)
        return self._store.latest_snapshot(branch_id, max_seq)

    def close(self) -> None:
        """The wrapped store belongs to its opener; closing a view of it does nothing."""


def _conforms(store: TenantStore) -> Store:
    return store  # mypy proves TenantStore satisfies the protocol
