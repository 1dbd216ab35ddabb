"""Rollout sets on several cores: members run in worker processes on the same SQLite file are
the members run in-process (events and head hashes), progress still reaches the caller, and
the parent's store stays usable for the branches the workers wrote."""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path

import pytest

from aegntix.analysis.parallel import MIN_MEMBERS_FOR_PROCESSES, deal, default_processes
from aegntix.analysis.rollouts import (
    create_set,
    members_view,
    repository,
    run_sets,
    with_control,
)
from aegntix.errors import InvalidRequest
from aegntix.model.events import BranchStatus
from aegntix.timeline import SqlStore, open_store
from aegntix.timeline.sqlite import WriterQueue
from aegntix.timeline.store import Store
from aegntix.timeline.tenancy import TenantStore
from tests.analysis.helpers import NEWS
from tests.engine.helpers import own_events, run_new, signature
from tests.support import example

SEED_BASE = 1234


def _study(store: Store, processes: int) -> tuple[list[object], list[tuple[int, int]]]:
    """A 5-member set and its control from step 1 of the town hall, run with ``processes``;
    each member's own events and head hash (both sets, in order) and the progress calls."""
    parent = run_new(store, example("town-hall"), steps=2)  # type: ignore[arg-type]
    made = create_set(store, parent, 1, 5, NEWS, seed_base=SEED_BASE)
    seen: list[tuple[str, int, int]] = []
    sets = with_control(repository(store), made.id)
    settled = asyncio.run(
        run_sets(
            store,
            sets,
            processes=processes,
            concurrency=2,
            on_progress=lambda s, d, t: seen.append((s, d, t)),
        )
    )
    assert [s.status.value for s in settled] == ["done", "done"]
    found: list[object] = []
    for rollout in sets:
        for member in members_view(store, rollout.id):
            branch = store.get_branch(member["branch_id"])
            assert branch.status is BranchStatus.DONE
            events = own_events(store, branch.id, branch.fork_seq)  # type: ignore[arg-type]
            found.append((member["index"], member["seed"], signature(events), branch.head_hash))
    return found, [(d, t) for s, d, t in seen if s == made.id]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_processes_give_the_members_one_process_gives(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    results = []
    for processes in (1, 2):
        where = tmp_path / f"p{processes}.db"
        db = str(where) if backend == "sqlite" else request.getfixturevalue("pg_database").new_url()
        store = open_store(db, snapshot_every=7)
        try:
            results.append(_study(store, processes))
        finally:
            store.close()
    (alone, progress_alone), (split, progress_split) = results
    assert split == alone
    # progress: first the members already done (none), then one call per finished member
    assert progress_alone == progress_split
    assert progress_split == [(d, 5) for d in range(6)]


def test_the_parent_can_fork_a_member_the_workers_wrote(store: SqlStore) -> None:
    parent = run_new(store, example("town-hall"), steps=2)
    made = create_set(store, parent, 1, 2)
    asyncio.run(run_sets(store, [made], processes=2))
    member = repository(store).members(made.id)[0]
    head = store.get_branch(member.branch_id)
    assert head.status is BranchStatus.DONE and head.head_step > 1
    # fork at the member's last step: it must see the workers' events, not a cached head
    child = store.fork(member.branch_id, head.head_step)
    assert child.fork_seq == head.head_seq
    assert store.get_branch(child.id).head_hash == head.head_hash


def test_a_tenants_set_runs_in_processes_as_that_tenant(store: SqlStore) -> None:
    tenant = TenantStore(store, "acme")
    found, _ = _study(tenant, 2)
    assert len(found) == 10  # each member read back through the tenant's own view


def test_on_step_needs_one_process(store: SqlStore) -> None:
    parent = run_new(store, example("town-hall"), steps=2)
    made = create_set(store, parent, 1, 1)
    with pytest.raises(InvalidRequest, match=r"^processes: "):
        asyncio.run(run_sets(store, [made], processes=2, on_step=lambda _r: None))
    member = repository(store).members(made.id)[0]
    assert store.get_branch(member.branch_id).head_step == 1  # refused before running


def test_members_are_dealt_evenly() -> None:
    work = [("a", f"a{i}") for i in range(3)] + [("b", f"b{i}") for i in range(3)]
    assert deal(work, 2) == [
        [("a", "a0"), ("a", "a2"), ("b", "b1")],
        [("a", "a1"), ("b", "b0"), ("b", "b2")],
    ]
    assert deal(work[:1], 4) == [[("a", "a0")]]


def test_the_writers_queue_excludes_other_processes_while_held(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "t.db")
    with queue:
        other = os.open(queue.path, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(other)
    other = os.open(queue.path, os.O_RDWR)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released after the transaction
    finally:
        os.close(other)


def test_a_parallel_run_leaves_no_lock_file_behind(store: SqlStore, tmp_path: Path) -> None:
    parent = run_new(store, example("town-hall"), steps=2)
    made = create_set(store, parent, 1, 2)
    asyncio.run(run_sets(store, [made], processes=2))
    assert sorted(p.name for p in tmp_path.iterdir() if "writers" in p.name) == []


def test_big_sets_of_rules_agents_use_every_core_by_default() -> None:
    rules, llm = example("town-hall"), example("negotiation-llm")
    assert default_processes(MIN_MEMBERS_FOR_PROCESSES, rules) == (os.cpu_count() or 1)
    assert default_processes(MIN_MEMBERS_FOR_PROCESSES - 1, rules) == 1  # startup costs more
    assert default_processes(1000, llm) == 1  # per-provider limits hold per process
