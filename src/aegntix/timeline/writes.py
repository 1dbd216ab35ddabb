"""The writer's side of the store: every mutation, run inside the writer thread's open
transaction, plus the caches that make appends and forks O(1) (heads, lineages, folded state).

Every operation is atomic (see ``writer.py``): appends buffer their rows and heads until the
batch's flush, and :meth:`WriteOps.undo` drops a failed one's; other operations run in a
SAVEPOINT. When a failed operation had changed a cache (``dirty``), or failed in the driver,
the caches are forgotten too, so none outlives what was rolled back; they reload from the
database (after a flush of what is buffered).
"""

from __future__ import annotations

import copy
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from aegntix.errors import (
    BranchBusy,
    ForkOutOfRange,
    HeadMoved,
    InvalidRequest,
    ScenarioNotFound,
)
from aegntix.model.events import (
    GENESIS_HASH,
    Branch,
    BranchStatus,
    Event,
    ScenarioRecord,
    canonical_json,
)
from aegntix.model.state import State, apply_event, empty_state
from aegntix.model.stored import SPEC_VERSION
from aegntix.timeline import queries as q
from aegntix.timeline.bus import StatusChange
from aegntix.timeline.fastpath import EventRow, FastPath
from aegntix.timeline.inserts import insert_with_new_id
from aegntix.timeline.prepare import KIND_TEXT, Prepared, chain_hash
from aegntix.timeline.schema import branches, scenarios, snapshots

# Built once: constructing a statement per request costs more than the insert itself.
_INSERT_SNAPSHOTS = insert(snapshots)
_SCENARIO_TENANT = select(scenarios.c.tenant_id).where(scenarios.c.id == bindparam("id"))
_SET_STATUS = (
    update(branches)
    .where(branches.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"), failure=bindparam("b_failure"), updated_at=bindparam("b_at")
    )
    .returning(branches.c.head_seq)
)
# Taken when a branch is loaded into the cache on PostgreSQL: the head just read stays the
# head until this transaction ends, so a batch re-run after HeadMoved cannot lose again.
_LOCK_BRANCH = select(branches.c.id).where(branches.c.id == bindparam("id")).with_for_update()
_HEAD_OF = select(branches.c.head_seq).where(branches.c.id == bindparam("id"))


@dataclass(slots=True)
class _Info:
    lineage: q.Lineage
    scenario_id: str
    tenant_id: str
    seed: int
    head_seq: int
    head_step: int
    head_hash: str


@dataclass(slots=True)
class _Folded:
    state: State  # owned by the writer; never handed out (snapshots are JSON copies)
    last_snap: int  # newest snapshot seq on the lineage, <= head


class WriteOps:
    def __init__(
        self, snapshot_every: int, *, state_cache: int = 1024, info_cache: int = 100_000
    ) -> None:
        if snapshot_every < 1:
            raise ValueError("snapshot_every must be >= 1")
        self.snapshot_every = snapshot_every
        self._state_cap = state_cache
        self._info_cap = info_cache
        self._infos: OrderedDict[str, _Info] = OrderedDict()
        self._states: OrderedDict[str, _Folded] = OrderedDict()
        self._last_now = datetime.now(UTC)
        # Appends of a batch are buffered and written with one executemany per table.
        self._rows: list[EventRow] = []
        self._fast: FastPath | None = None
        self._snaps: list[dict[str, Any]] = []
        # branch -> (id, new head seq, step, hash, time, head seq in the database)
        self._heads: dict[str, tuple[str, int, int, str, Any, int]] = {}
        # The running operation's undo log: where its buffered rows start, the heads it
        # replaced, and whether it changed a cache to reflect its own writes (``dirty``).
        self.dirty = False
        self._from = (0, 0)
        self._old_heads: dict[str, tuple[str, int, int, str, Any, int] | None] = {}

    def begin(self) -> None:
        """An operation starts: what it buffers from now on is its own."""
        self.dirty = False
        self._from = (len(self._rows), len(self._snaps))
        self._old_heads = {}

    def undo(self, *, caches: bool) -> None:
        """Drop what the failed operation buffered (what earlier ones buffered stays), and
        forget the caches too if ``caches``."""
        rows, snaps = self._from
        del self._rows[rows:]
        del self._snaps[snaps:]
        for branch_id, head in self._old_heads.items():
            if head is None:
                self._heads.pop(branch_id, None)
            else:
                self._heads[branch_id] = head
        self._old_heads = {}
        if caches:
            self._infos.clear()
            self._states.clear()

    def reset(self) -> None:
        """Forget every cache and buffer (after a rollback of the whole transaction)."""
        self._infos.clear()
        self._states.clear()
        self._rows, self._snaps, self._heads = [], [], {}
        self._from, self._old_heads = (0, 0), {}

    def flush(self, conn: Connection) -> None:
        """Write buffered appends. Called before any read of the database inside the batch
        (so reads see them) and before the commit."""
        fast = self._fast_path(conn)
        if self._heads:
            # Heads first: a moved head stops the flush before any row could clash. Sorted,
            # so writers of several processes lock branch rows in one order (no deadlock).
            heads = sorted(self._heads.values())
            self._heads = {}
            if fast.update_heads.execute(conn, heads) != len(heads):
                raise HeadMoved("another process appended to a branch this batch appends to")
        if self._rows:
            fast.insert_events.execute(conn, self._rows)
            self._rows = []
        if self._snaps:
            conn.execute(_INSERT_SNAPSHOTS, self._snaps)
            self._snaps = []
        # Written: no longer the running operation's to undo (appends flush only before
        # they buffer anything; other operations are inside their savepoint).
        self._from, self._old_heads = (0, 0), {}

    def _fast_path(self, conn: Connection) -> FastPath:
        if self._fast is None:
            self._fast = FastPath(conn.dialect)
        return self._fast

    def _now(self) -> datetime:
        # Strictly increasing, so "oldest first" is a total order within this writer.
        now = datetime.now(UTC)
        if now <= self._last_now:
            now = self._last_now + timedelta(microseconds=1)
        self._last_now = now
        return now

    # -- caches ----------------------------------------------------------------------------
    def _info(self, conn: Connection, branch_id: str) -> _Info:
        info = self._infos.get(branch_id)
        if info is not None:
            self._infos.move_to_end(branch_id)
            return info
        self.flush(conn)
        if conn.dialect.name == "postgresql":
            conn.execute(_LOCK_BRANCH, {"id": branch_id})
        members = q.lineage_rows(conn, branch_id)
        b = members[0]
        info = _Info(
            q.to_lineage(members),
            b.scenario_id,
            b.tenant_id,
            b.seed,
            b.head_seq,
            b.head_step,
            b.head_hash,
        )
        self._remember_info(branch_id, info)
        return info

    def _fresh_info(self, conn: Connection, branch_id: str) -> _Info:
        """The branch as the database has it now: another process may have appended since
        it was cached (then its cached head and folded state are dropped and reloaded)."""
        if branch_id not in self._infos:
            return self._info(conn, branch_id)  # read just now
        info = self._info(conn, branch_id)
        self.flush(conn)
        if conn.execute(_HEAD_OF, {"id": branch_id}).scalar() == info.head_seq:
            return info
        self._infos.pop(branch_id, None)
        self._states.pop(branch_id, None)
        return self._info(conn, branch_id)

    def _remember_info(self, branch_id: str, info: _Info) -> None:
        self._infos[branch_id] = info
        if len(self._infos) > self._info_cap:
            self._infos.popitem(last=False)

    def _remember_state(self, branch_id: str, folded: _Folded) -> None:
        self._states[branch_id] = folded
        if len(self._states) > self._state_cap:
            self._states.popitem(last=False)

    def _folded(self, conn: Connection, branch_id: str, info: _Info) -> _Folded:
        folded = self._states.get(branch_id)
        if folded is not None:
            self._states.move_to_end(branch_id)
            return folded
        self.flush(conn)
        snap = q.latest_snapshot(conn, info.lineage, info.head_seq)
        state = snap.state if snap is not None else empty_state()
        base = snap.seq if snap is not None else 0
        for ev in q.iter_events(conn, info.lineage, base + 1, info.head_seq):
            apply_event(state, ev.kind, ev.step, ev.payload)
        folded = _Folded(state, base)
        self._remember_state(branch_id, folded)
        return folded

    # -- operations ------------------------------------------------------------------------
    def create_scenario(
        self, conn: Connection, name: str, spec_json: str, spec_hash: str, tenant_id: str
    ) -> ScenarioRecord:
        self.flush(conn)
        now = self._now()
        sid = insert_with_new_id(
            conn,
            scenarios,
            {
                "tenant_id": tenant_id,
                "name": name,
                "spec": spec_json,
                "spec_hash": spec_hash,
                "spec_version": SPEC_VERSION,
                "created_at": now,
            },
        )
        spec = json.loads(spec_json)
        return ScenarioRecord(sid, name, spec, spec_hash, now, tenant_id, SPEC_VERSION)

    def create_branch(
        self, conn: Connection, scenario_id: str, seed: int, label: str, tenant_id: str
    ) -> Branch:
        self.flush(conn)
        owner = conn.execute(_SCENARIO_TENANT, {"id": scenario_id}).scalar()
        if owner is None or owner != tenant_id:  # a foreign scenario is a missing one
            raise ScenarioNotFound(f"no scenario '{scenario_id}'")
        return self._insert_branch(
            conn, scenario_id, tenant_id, None, 0, 0, seed, label, 0, GENESIS_HASH, ()
        )

    def fork(
        self, conn: Connection, parent_id: str, at_step: int, seed: int | None, label: str | None
    ) -> Branch:
        self.flush(conn)
        p = self._info(conn, parent_id)
        if at_step >= p.head_step:
            # At or past the head this process knows: another may have appended since.
            # Before it, no: events are immutable and later ones have later steps.
            p = self._fresh_info(conn, parent_id)
        if at_step < 0 or at_step > p.head_step:
            raise ForkOutOfRange(
                f"cannot fork branch '{parent_id}' at step {at_step}: "
                f"its head is at step {p.head_step}"
            )
        head = (p.head_seq, p.head_step, p.head_hash)
        fork_seq, step, hash_ = q.point_at_step(conn, p.lineage, head, at_step)
        child = self._insert_branch(
            conn,
            p.scenario_id,
            p.tenant_id,
            parent_id,
            fork_seq,
            at_step,
            p.seed if seed is None else seed,
            label if label is not None else f"fork@{at_step}",
            step,
            hash_,
            p.lineage,
        )
        parent_state = self._states.get(parent_id)
        if parent_state is not None and fork_seq == p.head_seq:
            self.dirty = True
            # Cheaper than a reload; a deep copy so the two futures share nothing (§9).
            copied = _Folded(copy.deepcopy(parent_state.state), parent_state.last_snap)
            self._remember_state(child.id, copied)
        return child

    def _insert_branch(
        self,
        conn: Connection,
        scenario_id: str,
        tenant_id: str,
        parent_id: str | None,
        fork_seq: int,
        fork_step: int,
        seed: int,
        label: str,
        head_step: int,
        head_hash: str,
        parent_lineage: q.Lineage,
    ) -> Branch:
        now = self._now()
        bid = insert_with_new_id(
            conn,
            branches,
            {
                "tenant_id": tenant_id,
                "scenario_id": scenario_id,
                "parent_id": parent_id,
                "fork_seq": fork_seq,
                "fork_step": fork_step,
                "seed": seed,
                "label": label,
                "status": BranchStatus.IDLE.value,
                "head_seq": fork_seq,
                "head_step": head_step,
                "head_hash": head_hash,
                "created_at": now,
                "updated_at": now,
            },
        )
        lineage = (q.Link(bid, fork_seq, fork_step), *parent_lineage)
        self.dirty = True
        info = _Info(lineage, scenario_id, tenant_id, seed, fork_seq, head_step, head_hash)
        self._remember_info(bid, info)
        return Branch(
            bid,
            scenario_id,
            parent_id,
            fork_seq,
            fork_step,
            seed,
            label,
            BranchStatus.IDLE,
            fork_seq,
            head_step,
            head_hash,
            now,
            tenant_id,
        )

    def set_status(
        self, conn: Connection, branch_id: str, status: BranchStatus, failure: str | None
    ) -> StatusChange:
        """``failure``: the reason as JSON text; any other status clears it. Returns the
        change, which the writer announces once committed."""
        self.flush(conn)
        self._info(conn, branch_id)
        head = conn.execute(
            _SET_STATUS,
            {
                "b_id": branch_id,
                "b_status": status.value,
                "b_failure": failure,
                "b_at": self._now(),
            },
        ).scalar_one()
        reason = None if failure is None else json.loads(failure)
        return StatusChange(branch_id, status.value, int(head), reason)

    def append(
        self,
        conn: Connection,
        branch_id: str,
        prepared: Sequence[Prepared],
        expect_seq: int | None,
    ) -> list[Event]:
        info = self._info(conn, branch_id)
        if expect_seq is not None and expect_seq != info.head_seq:
            info = self._fresh_info(conn, branch_id)  # the cache may be what is behind
        if expect_seq is not None and expect_seq != info.head_seq:
            raise BranchBusy(
                f"branch '{branch_id}' is at seq {info.head_seq}, not {expect_seq}: "
                "someone else appended"
            )
        if prepared and prepared[0].step < info.head_step:
            raise InvalidRequest(
                f"step {prepared[0].step} is before branch '{branch_id}''s head step "
                f"{info.head_step}: steps never go backwards"
            )
        if not prepared:
            return []
        folded = self._folded(conn, branch_id, info)
        self.dirty = True  # from here on the caches run ahead of the database
        state, every, last_snap = folded.state, self.snapshot_every, folded.last_snap
        now = self._now()
        stamp = self._fast_path(conn).stamp(now)
        seq, prev, tenant = info.head_seq, info.head_hash, info.tenant_id
        rows, out, kinds = self._rows, [], KIND_TEXT
        for p in prepared:
            seq += 1
            h = chain_hash(prev, seq, p.tail)
            rows.append(
                (
                    branch_id,
                    seq,
                    p.step,
                    kinds[p.kind],
                    p.agent_id,
                    p.payload_json,
                    h,
                    prev,
                    stamp,
                    tenant,
                )
            )
            out.append(Event(branch_id, seq, p.step, p.kind, p.agent_id, p.payload, h, prev, now))
            apply_event(state, p.kind, p.step, p.payload)
            if seq - last_snap >= every:
                self._snaps.append(
                    {
                        "branch_id": branch_id,
                        "seq": seq,
                        "tenant_id": tenant,
                        "step": p.step,
                        "state": canonical_json(state),
                        "created_at": now,
                    }
                )
                last_snap = seq
            prev = h
        last_step = prepared[-1].step
        earlier = self._heads.get(branch_id)
        self._old_heads.setdefault(branch_id, earlier)
        in_db = info.head_seq if earlier is None else earlier[5]
        self._heads[branch_id] = (branch_id, seq, last_step, prev, stamp, in_db)
        info.head_seq, info.head_step, info.head_hash = seq, last_step, prev
        folded.last_snap = last_snap
        return out
