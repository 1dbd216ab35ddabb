"""Rollout set records: the set (where it forks, its injection, N, seeds, status) and its
members (index -> branch, seed), tenant-scoped, in the timeline's database.

A set's members are ordinary branches; these tables only remember which branches form the
set and with which seeds. :class:`SqlRollouts` is their repository on the tenant-scoped
data-access layer (``repository.TenantRows``), as the other side tables'; writes go through
the store's single writer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Connection, Select, and_, insert, select, update

from aegntix.engine.seeding import derive_seed, rollout_seed
from aegntix.errors import InvalidRequest, RolloutSetNotFound
from aegntix.model.events import EventKind, canonical_json
from aegntix.model.state import STEP_END
from aegntix.repository import Database, TenantRows, require_database, tenant_of
from aegntix.timeline import queries as q
from aegntix.timeline.ids import resolve_id
from aegntix.timeline.inserts import insert_with_new_id
from aegntix.timeline.schema import (
    DEFAULT_TENANT,
    branches,
    events,
    rollout_members,
    rollout_sets,
    run_leases,
)
from aegntix.timeline.store import Store

#: The most members a set may have (the CLI and API refuse more).
MAX_ROLLOUTS = 1000
#: A set's error is told in a line or two (what the UI and the CLI show).
MAX_ERROR_CHARS = 500


class SetStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"  # every member terminated
    FAILED = "failed"  # at least one member's run failed
    PARTIAL = "partial"  # stopped (interrupted) with members unfinished: `continue` it


@dataclass(frozen=True, slots=True)
class Member:
    index: int
    branch_id: str
    seed: int


@dataclass(frozen=True, slots=True)
class MemberHead:
    """A member's branch as the set's statistics need it (read for all members at once)."""

    index: int
    branch_id: str
    seed: int
    status: str
    parent_id: str | None
    fork_seq: int
    head_seq: int
    head_step: int
    head_hash: str


@dataclass(frozen=True, slots=True)
class RolloutSet:
    id: str
    scenario_id: str
    parent_id: str
    fork_step: int
    injection: dict[str, Any] | None  # content, strategy, targets, fields, world, urgency
    n: int
    seed_base: int
    status: SetStatus
    control_id: str | None
    created_at: datetime
    #: Why the set's last drive failed (a fork or the driver itself), if it did.
    error: str | None = None

    def seed(self, index: int) -> int:
        return member_seed(self.seed_base, index)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scenario_id": self.scenario_id,
            "parent_id": self.parent_id,
            "fork_step": self.fork_step,
            "injection": self.injection,
            "n": self.n,
            "seed_base": self.seed_base,
            "seeds": [self.seed(i) for i in range(self.n)],
            "status": self.status.value,
            "control_id": self.control_id,
            "created_at": self.created_at.isoformat(),
            "error": self.error,
        }


def default_seed_base(parent_seed: int, fork_hash: str, fork_step: int) -> int:
    """The seed base of a set forked at ``fork_step`` from a branch with ``parent_seed``
    whose last inherited event has hash ``fork_hash`` ("" if none). It names the history, not
    a random branch id, so the same study in a fresh database draws the same seeds; an
    intervention set and its control share it (common random numbers)."""
    return derive_seed(parent_seed, fork_hash, fork_step, "rollouts")


def member_seed(seed_base: int, index: int) -> int:
    """``seed_i = BLAKE2b-64(seed_base, "rollout", i) >> 1`` (docs/rollouts.md)."""
    return rollout_seed(seed_base, index)


def check_n(n: int, name: str = "n") -> int:
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_ROLLOUTS:
        raise InvalidRequest(f"{name}: must be an integer from 1 to {MAX_ROLLOUTS}, not {n!r}")
    return n


class RolloutRepository(Protocol):
    """What the rollout operations need of a set store (SQL now; any backend later)."""

    tenant_id: str

    def create(
        self,
        *,
        scenario_id: str,
        parent_id: str,
        fork_step: int,
        injection: dict[str, Any] | None,
        n: int,
        seed_base: int,
    ) -> RolloutSet: ...

    def resolve(self, ref: str) -> str: ...

    def get(self, set_id: str) -> RolloutSet: ...

    def list_sets(self) -> list[RolloutSet]: ...

    def find_control(self, parent_id: str, fork_step: int, seed_base: int) -> RolloutSet | None: ...

    def update(
        self,
        set_id: str,
        *,
        n: int | None = None,
        status: SetStatus | None = None,
        control_id: str | None = None,
        error: str | None = None,
    ) -> RolloutSet: ...

    def members(self, set_id: str) -> list[Member]: ...

    def add_member(self, set_id: str, member: Member) -> None: ...

    def member_statuses(self, set_id: str) -> dict[int, str]: ...

    def settle(self, set_id: str, decide: Callable[[int, list[str]], SetStatus]) -> RolloutSet: ...

    def member_heads(self, set_id: str) -> list[MemberHead]: ...

    def step_ends(self, set_id: str) -> dict[str, list[tuple[int, str]]]: ...


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _row(row: Any) -> RolloutSet:
    return RolloutSet(
        row.id,
        row.scenario_id,
        row.parent_id,
        int(row.fork_step),
        None if row.injection is None else json.loads(row.injection),
        int(row.n),
        int(row.seed_base),
        SetStatus(row.status),
        row.control_id,
        _aware(row.created_at),
        row.error,
    )


class SqlRollouts(TenantRows):
    """Rollout sets of one tenant, on the tenant-scoped data-access layer (every statement
    filtered and stamped by :class:`~aegntix.repository.TenantRows`). Thread-safe."""

    tenant_id: str

    def __init__(self, db: Database, tenant_id: str) -> None:
        super().__init__(db, tenant_id)

    @classmethod
    def of(cls, store: Store) -> SqlRollouts:
        """The sets of ``store``'s tenant (a ``TenantStore``'s; a bare ``SqlStore``: the
        default tenant)."""
        return cls(require_database(store, "rollout sets"), tenant_of(store, DEFAULT_TENANT))

    def _where(self, set_id: str) -> Any:
        return and_(self.mine(rollout_sets), rollout_sets.c.id == set_id)

    def _members_of(self, set_id: str) -> Any:
        return and_(self.mine(rollout_members), rollout_members.c.set_id == set_id)

    def create(
        self,
        *,
        scenario_id: str,
        parent_id: str,
        fork_step: int,
        injection: dict[str, Any] | None,
        n: int,
        seed_base: int,
    ) -> RolloutSet:
        row = self.stamped(
            scenario_id=scenario_id,
            parent_id=parent_id,
            fork_step=fork_step,
            injection=None if injection is None else canonical_json(injection),
            n=check_n(n),
            seed_base=seed_base,
            status=SetStatus.RUNNING.value,
            control_id=None,
            created_at=datetime.now(UTC),
        )
        set_id = self.write(lambda conn: insert_with_new_id(conn, rollout_sets, row))
        return self.get(set_id)

    def resolve(self, ref: str) -> str:
        """The id ``ref`` names: itself, or the one id it is a prefix of (4+ characters)."""
        ids = select(rollout_sets.c.id).where(self.mine(rollout_sets))
        with self.reading() as conn:
            return resolve_id(
                conn, ids, rollout_sets.c.id, ref, what="rollout set", missing=RolloutSetNotFound
            )

    def get(self, set_id: str) -> RolloutSet:
        with self.reading() as conn:
            row = conn.execute(select(rollout_sets).where(self._where(set_id))).first()
        if row is None:
            raise RolloutSetNotFound(f"no rollout set '{set_id}' (see `aegntix rollouts list`)")
        return _row(row)

    def list_sets(self) -> list[RolloutSet]:
        query = (
            select(rollout_sets)
            .where(self.mine(rollout_sets))
            .order_by(rollout_sets.c.created_at, rollout_sets.c.id)
        )
        with self.reading() as conn:
            return [_row(r) for r in conn.execute(query)]

    def find_control(self, parent_id: str, fork_step: int, seed_base: int) -> RolloutSet | None:
        """A set from this point with this seed base and no injection (a control to reuse)."""
        query = (
            select(rollout_sets)
            .where(
                self.mine(rollout_sets),
                rollout_sets.c.parent_id == parent_id,
                rollout_sets.c.fork_step == fork_step,
                rollout_sets.c.seed_base == seed_base,
                rollout_sets.c.injection.is_(None),
            )
            .order_by(rollout_sets.c.created_at)
            .limit(1)
        )
        with self.reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else _row(row)

    def update(
        self,
        set_id: str,
        *,
        n: int | None = None,
        status: SetStatus | None = None,
        control_id: str | None = None,
        error: str | None = None,
    ) -> RolloutSet:
        """Change what is given. A new ``status`` replaces the set's error with ``error``
        (none: a set that runs again, or ends, has no failure to tell)."""
        values: dict[str, Any] = {}
        if n is not None:
            values["n"] = check_n(n)
        if status is not None:
            values["status"] = status.value
            values["error"] = None if error is None else error[:MAX_ERROR_CHARS]
        if control_id is not None:
            values["control_id"] = control_id
        if values:
            self.write(
                lambda conn: conn.execute(
                    update(rollout_sets).where(self._where(set_id)).values(**values)
                )
            )
        return self.get(set_id)

    def members(self, set_id: str) -> list[Member]:
        query = (
            select(rollout_members).where(self._members_of(set_id)).order_by(rollout_members.c.idx)
        )
        with self.reading() as conn:
            return [Member(int(r.idx), r.branch_id, int(r.seed)) for r in conn.execute(query)]

    def add_member(self, set_id: str, member: Member) -> None:
        row = self.stamped(
            set_id=set_id, idx=member.index, branch_id=member.branch_id, seed=member.seed
        )
        self.write(lambda conn: conn.execute(insert(rollout_members), row))

    def member_statuses(self, set_id: str) -> dict[int, str]:
        """Each member's branch status (one query, not one per member)."""
        with self.reading() as conn:
            return {int(r[0]): str(r[1]) for r in conn.execute(self._statuses(set_id))}

    def settle(self, set_id: str, decide: Callable[[int, list[str]], SetStatus]) -> RolloutSet:
        """Record ``decide(n, member statuses)`` as the set's status, read and written in one
        transaction holding the set's row: two runners settling one set at once are ordered,
        so the later one reads what the earlier one's members left (never a stale status)."""

        def op(conn: Connection) -> None:
            where = self._where(set_id)
            n = conn.execute(select(rollout_sets.c.n).where(where).with_for_update()).scalar()
            if n is None:
                raise RolloutSetNotFound(f"no rollout set '{set_id}'")
            statuses = [str(r[1]) for r in conn.execute(self._statuses(set_id))]
            status = decide(int(n), statuses)
            cleared = {} if status is SetStatus.FAILED else {"error": None}
            conn.execute(update(rollout_sets).where(where).values(status=status.value, **cleared))

        self.write(op)
        return self.get(set_id)

    def _statuses(self, set_id: str) -> Select[Any]:
        return q.with_leases(
            select(rollout_members.c.idx, q.live_status(time.time())).join(
                branches, branches.c.id == rollout_members.c.branch_id
            )
        ).where(self._members_of(set_id), self.mine(branches))

    def member_heads(self, set_id: str) -> list[MemberHead]:
        """Every member's branch row, in member order (one query)."""
        query = (
            select(
                rollout_members.c.idx,
                branches.c.id,
                rollout_members.c.seed,
                q.live_status(time.time()),
                branches.c.parent_id,
                branches.c.fork_seq,
                branches.c.head_seq,
                branches.c.head_step,
                branches.c.head_hash,
            )
            .join(branches, branches.c.id == rollout_members.c.branch_id)
            .outerjoin(run_leases, run_leases.c.branch_id == branches.c.id)
            .where(self._members_of(set_id), self.mine(branches))
            .order_by(rollout_members.c.idx)
        )
        with self.reading() as conn:
            return [
                MemberHead(
                    int(r[0]),
                    r[1],
                    int(r[2]),
                    str(r[3]),
                    r[4],
                    int(r[5]),
                    int(r[6]),
                    int(r[7]),
                    r[8],
                )
                for r in conn.execute(query)
            ]

    def step_ends(self, set_id: str) -> dict[str, list[tuple[int, str]]]:
        """Each member branch's own ``step_end`` candidates, ``(seq, payload JSON)`` in seq
        order, for the whole set in one query. The filter is coarse (a system event whose
        canonical JSON ends with the step_end type); callers check the decoded type."""
        member_ids = select(rollout_members.c.branch_id).where(self._members_of(set_id))
        query = (
            select(events.c.branch_id, events.c.seq, events.c.payload)
            .where(
                events.c.branch_id.in_(member_ids),
                self.mine(events),
                events.c.kind == EventKind.SYSTEM.value,
                events.c.payload.like(f'%"type":"{STEP_END}"}}'),
            )
            .order_by(events.c.branch_id, events.c.seq)
        )
        found: dict[str, list[tuple[int, str]]] = {}
        with self.reading() as conn:
            for branch_id, seq, payload in conn.execute(query):
                found.setdefault(branch_id, []).append((int(seq), payload))
        return found


def members_json(members: Sequence[Member]) -> list[dict[str, Any]]:
    return [{"index": m.index, "branch_id": m.branch_id, "seed": m.seed} for m in members]
