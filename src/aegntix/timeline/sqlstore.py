"""``SqlStore``: the :class:`~aegntix.timeline.store.Store` over SQLAlchemy Core.

Portable SQL only, so the PostgreSQL backend reuses it with its own engine. Reads use pooled
connections and see committed data; every write goes through the single group-commit
:class:`~aegntix.timeline.writer.Writer`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, select

from aegntix.errors import BranchNotFound, InvalidRequest, ScenarioNotFound
from aegntix.model.events import (
    Branch,
    BranchStatus,
    Event,
    Failure,
    NewEvent,
    ScenarioRecord,
    canonical_json,
)
from aegntix.model.text import text_problem
from aegntix.timeline import queries as q
from aegntix.timeline.bus import Bus, publish_committed
from aegntix.timeline.dberrors import map_db_errors
from aegntix.timeline.ids import resolve_id
from aegntix.timeline.migrate import upgrade
from aegntix.timeline.prepare import check_seed, prepare
from aegntix.timeline.schema import DEFAULT_TENANT, branches, events, scenarios
from aegntix.timeline.store import Snapshot, Store
from aegntix.timeline.verify import Auditable, RawEvent
from aegntix.timeline.writer import Writer
from aegntix.timeline.writes import WriteOps

_MAX_TEXT = 200
_MAX_TENANT = 64
_LINEAGE_CACHE = 100_000

T = TypeVar("T")


def tenant_name(value: object) -> str:
    """A valid tenant id: 1 to 64 characters of letters, digits, ``-``, ``_`` and ``.``."""
    ok = (
        isinstance(value, str)
        and 0 < len(value) <= _MAX_TENANT
        and all(c.isascii() and (c.isalnum() or c in "-_.") for c in value)
    )
    if not ok:
        raise InvalidRequest(
            f"tenant id must be 1 to {_MAX_TENANT} letters, digits, '-', '_' or '.'",
            field="tenant_id",
        )
    assert isinstance(value, str)
    return value


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_TEXT:
        raise InvalidRequest(
            f"{name} must be a string of 1 to {_MAX_TEXT} characters", field=name.replace(" ", "_")
        )
    if problem := text_problem(value, multi_line=False):
        raise InvalidRequest(f"{name}: {problem}")
    return value


def _step(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest(f"step must be an integer, not {value!r}", field="step")
    return value


class SqlStore:
    """Timeline store on any SQLAlchemy engine (SQLite today). Thread-safe."""

    def __init__(
        self,
        engine: Engine,
        *,
        snapshot_every: int = 500,
        after_commit: Callable[[Connection], None] | None = None,
        transaction_lock: AbstractContextManager[Any] | None = None,
    ) -> None:
        """``after_commit``: backend maintenance run by the writer after each commit;
        ``transaction_lock``: held around each of the writer's transactions."""
        upgrade(engine)
        self._engine = engine
        self._writer = Writer(
            engine,
            WriteOps(snapshot_every),
            after_commit=after_commit,
            transaction_lock=transaction_lock,
        )
        self._ops = self._writer.ops
        # Lineages never change once committed, so readers cache them (heads are read fresh).
        self._lineages: dict[str, q.Lineage] = {}
        self._closed = False
        self.bus: Bus | None = None

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextmanager
    def reading(self, *, one_statement: bool = False) -> Iterator[Connection]:
        """A pooled connection for reads; driver errors leave as one-line project errors.
        ``one_statement``: the caller runs a single statement, which needs no transaction
        around it: on PostgreSQL none is opened (no ``BEGIN`` and ``ROLLBACK`` round trips,
        half of a hot read's)."""
        with map_db_errors(), self._engine.connect() as conn:
            if one_statement and self._engine.dialect.name == "postgresql":
                conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    def publish_to(self, bus: Bus) -> Bus:
        """Announce every committed append and status change on ``bus`` from now on (one
        bus per store)."""
        self.bus = bus
        self._writer.on_committed = lambda committed: publish_committed(bus, committed)
        return bus

    @property
    def snapshot_every(self) -> int:
        return self._ops.snapshot_every

    def stats(self) -> dict[str, int]:
        """Writer counters: commits, requests, events, batched_commits, max_batch, ..."""
        return self._writer.stats()

    # -- scenarios -------------------------------------------------------------------------
    def create_scenario(
        self, name: str, spec: dict[str, Any], *, tenant_id: str = DEFAULT_TENANT
    ) -> ScenarioRecord:
        _text("scenario name", name)
        tenant_name(tenant_id)
        if not isinstance(spec, dict):
            raise InvalidRequest("a scenario spec must be a JSON object", field="spec")
        try:
            spec_json = canonical_json(spec)
        except (TypeError, ValueError) as exc:
            raise InvalidRequest(f"scenario spec is not JSON: {exc}", field="spec") from None
        spec_hash = hashlib.sha256(spec_json.encode()).hexdigest()
        ops = self._ops
        return self._writer.submit(
            lambda c: ops.create_scenario(c, name, spec_json, spec_hash, tenant_id)
        ).result()

    def get_scenario(self, scenario_id: str) -> ScenarioRecord:
        with self.reading() as conn:
            row = conn.execute(select(scenarios).where(scenarios.c.id == scenario_id)).first()
        if row is None:
            raise ScenarioNotFound(f"no scenario '{scenario_id}'")
        return scenario_from_row(row._mapping)

    def list_scenarios(self) -> list[ScenarioRecord]:
        query = select(scenarios).order_by(scenarios.c.created_at, scenarios.c.id)
        with self.reading() as conn:
            return [scenario_from_row(r._mapping) for r in conn.execute(query)]

    # -- branches --------------------------------------------------------------------------
    def create_branch(
        self,
        scenario_id: str,
        *,
        seed: int,
        label: str = "main",
        tenant_id: str = DEFAULT_TENANT,
    ) -> Branch:
        check_seed(seed)
        _text("label", label)
        tenant_name(tenant_id)
        ops = self._ops
        return self._writer.submit(
            lambda c: ops.create_branch(c, scenario_id, seed, label, tenant_id)
        ).result()

    def fork(
        self, parent_id: str, at_step: int, *, seed: int | None = None, label: str | None = None
    ) -> Branch:
        _step(at_step)
        if seed is not None:
            check_seed(seed)
        if label is not None:
            _text("label", label)
        ops = self._ops
        return self._writer.submit(lambda c: ops.fork(c, parent_id, at_step, seed, label)).result()

    def get_branch(self, branch_id: str) -> Branch:
        """The stored row (what its runner recorded; lists and the API read the status as
        it stands, with the lease: ``leases.branch_and_lease``)."""
        with self.reading() as conn:
            return q.get_branch(conn, branch_id)

    def resolve_branch(self, ref: str) -> str:
        """The id of the branch ``ref`` names: its id, or a unique prefix of it (4+ chars);
        ``BranchNotFound`` or ``AmbiguousId`` otherwise. Any tenant (the CLI's view)."""
        with self.reading() as conn:
            return resolve_id(
                conn,
                select(branches.c.id),
                branches.c.id,
                ref,
                what="branch",
                missing=BranchNotFound,
            )

    def list_branches(self, scenario_id: str | None = None) -> list[Branch]:
        """Every branch, its status as it stands (a crashed run's branch reads ``paused``)."""
        query = q.live_branches(time.time())
        if scenario_id is not None:
            query = query.where(branches.c.scenario_id == scenario_id)
        with self.reading() as conn:
            return [q.row_to_branch(r) for r in conn.execute(query)]

    def lineage(self, branch_id: str) -> list[Branch]:
        with self.reading() as conn:
            return q.lineage_rows(conn, branch_id)

    def set_status(
        self, branch_id: str, status: BranchStatus, *, failure: Failure | None = None
    ) -> None:
        try:
            value = BranchStatus(status)
        except ValueError:
            raise InvalidRequest(f"unknown branch status '{status}'", field="status") from None
        if failure is not None and value is not BranchStatus.FAILED:
            raise InvalidRequest("failure: only a failed branch has a failure reason")
        text = None if failure is None else canonical_json(failure.to_json())
        ops = self._ops
        # returns the StatusChange the writer announces once committed
        self._writer.submit(lambda c: ops.set_status(c, branch_id, value, text)).result()

    # -- events ----------------------------------------------------------------------------
    def _append_op(
        self, branch_id: str, new_events: Sequence[NewEvent], expect_seq: int | None
    ) -> tuple[Callable[[Connection], list[Event]], int]:
        prepared = prepare(new_events)
        ops = self._ops
        return (lambda c: ops.append(c, branch_id, prepared, expect_seq)), len(prepared)

    def append(
        self, branch_id: str, events: Sequence[NewEvent], *, expect_seq: int | None = None
    ) -> list[Event]:
        if not events:
            return []
        op, size = self._append_op(branch_id, events, expect_seq)
        return self._writer.submit(op, size).result()

    async def append_async(
        self, branch_id: str, events: Sequence[NewEvent], *, expect_seq: int | None = None
    ) -> list[Event]:
        """Same as :meth:`append`. If the awaiting task is cancelled once the writer has
        started on it, the events are still appended (as with ``asyncio.wrap_future``)."""
        if not events:
            return []
        op, size = self._append_op(branch_id, events, expect_seq)
        return await self._writer.submit_async(op, size)

    def _head(self, conn: Connection, branch_id: str) -> tuple[Branch, q.Lineage]:
        branch = q.get_branch(conn, branch_id)
        lineage = self._lineages.get(branch_id)
        if lineage is None:
            lineage = q.to_lineage(q.lineage_rows(conn, branch_id))
            if len(self._lineages) >= _LINEAGE_CACHE:
                self._lineages.clear()
            self._lineages[branch_id] = lineage
        return branch, lineage

    def events(
        self,
        branch_id: str,
        *,
        from_seq: int = 1,
        to_seq: int | None = None,
        from_step: int | None = None,
        to_step: int | None = None,
    ) -> Iterator[Event]:
        # Bounds are fixed now (eagerly, so an unknown id raises here, not on first next()).
        with self.reading() as conn:
            b, lineage = self._head(conn, branch_id)
            lo = max(from_seq, 1)
            hi = b.head_seq if to_seq is None else min(to_seq, b.head_seq)
            if from_step is not None:
                before = q.seq_at_step(conn, lineage, b.head_seq, b.head_step, from_step - 1)
                lo = max(lo, before + 1)
            if to_step is not None:
                hi = min(hi, q.seq_at_step(conn, lineage, b.head_seq, b.head_step, to_step))
        return self._stream(lineage, lo, hi)

    def _stream(self, lineage: q.Lineage, lo: int, hi: int) -> Iterator[Event]:
        # One short read per page: no connection or WAL snapshot held while the caller iterates.
        for member, first, last in q.segments(lineage, lo, hi):
            nxt = first
            while nxt <= last:
                with self.reading() as conn:
                    page = q.event_page(conn, member, nxt, last)
                if not page:
                    break
                yield from page
                nxt = page[-1].seq + 1

    def seq_at_step(self, branch_id: str, step: int) -> int:
        with self.reading() as conn:
            b, lineage = self._head(conn, branch_id)
            return q.seq_at_step(conn, lineage, b.head_seq, b.head_step, step)

    def latest_snapshot(self, branch_id: str, max_seq: int) -> Snapshot | None:
        with self.reading() as conn:
            b, lineage = self._head(conn, branch_id)
            return q.latest_snapshot(conn, lineage, min(max_seq, b.head_seq))

    def raw_events(self, branch_id: str) -> Iterator[RawEvent]:
        """Every row stored under ``branch_id`` (its own, not inherited), in seq order, as
        stored: no head bound, nothing parsed. For :func:`~aegntix.timeline.verify.verify`."""
        after = -(2**63)
        while True:
            with self.reading() as conn:
                rows = conn.execute(
                    select(
                        events.c.seq,
                        events.c.step,
                        events.c.kind,
                        events.c.agent_id,
                        events.c.payload,
                        events.c.hash,
                        events.c.prev_hash,
                    )
                    .where(events.c.branch_id == branch_id, events.c.seq > after)
                    .order_by(events.c.seq)
                    .limit(q.PAGE)
                ).all()
            if not rows:
                return
            for r in rows:
                yield RawEvent(*r)
            after = rows[-1].seq

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in the writer's transaction (for tables beside the timeline: tenants,
        API keys, profiles, soft deletes), atomically: ``fn`` runs in its own SAVEPOINT, so
        if it raises — before or after writing — nothing it wrote stays, and the other
        requests of its group commit are unaffected. An ``AegntixError`` reaches the caller
        as is; anything else as a ``StoreError``."""
        return self._writer.submit(fn).result()

    def forget_caches(self) -> None:
        """Drop the writer's cached heads and folded states, after another process appended
        to branches this one had cached (they reload from the database on next use)."""
        ops = self._ops
        self._writer.submit(lambda _conn: ops.reset()).result()

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Finish queued writes, stop the writer, release connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        self._engine.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def scenario_from_row(m: Any) -> ScenarioRecord:
    created = q.aware(m["created_at"])
    return ScenarioRecord(
        m["id"],
        m["name"],
        json.loads(m["spec"]),
        m["spec_hash"],
        created,
        m["tenant_id"],
        m["spec_version"],
    )


def _conforms(store: SqlStore) -> tuple[Store, Auditable]:
    return store, store  # mypy proves SqlStore satisfies both protocols
