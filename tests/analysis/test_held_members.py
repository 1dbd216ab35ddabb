"""Members another runner holds when a set runs (continue after a crash, or two processes on
one set), on both backends: a dead runner's leases are waited out and its members taken over
(the set finishes); a live runner's members are left to it (the set stays running)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

from aegntix.analysis.leased import Held
from aegntix.analysis.records import RolloutSet, SetStatus
from aegntix.analysis.rollouts import create_set, members_view, repository, run_sets
from aegntix.model.events import BranchStatus
from aegntix.timeline import SqlStore, open_store, verify
from aegntix.timeline.leases import LEASE_ENV, RunLeases
from tests.engine.helpers import run_new
from tests.support import example

N = 4
SEED_BASE = 77


@pytest.fixture
def store(store_on_both: SqlStore) -> SqlStore:
    return store_on_both


def _new_set(store: SqlStore) -> RolloutSet:
    parent = run_new(store, example("town-hall"), steps=2)
    return create_set(store, parent, 1, N, seed_base=SEED_BASE)


def _run(store: SqlStore, rollout: RolloutSet) -> tuple[SetStatus, list[Held]]:
    reports: list[Held] = []
    (settled,) = asyncio.run(run_sets(store, [rollout], on_held=reports.append))
    return settled.status, reports


def _heads(store: SqlStore, set_id: str) -> list[tuple[int, str | None, str]]:
    return [(m["index"], m["head_hash"], m["status"]) for m in members_view(store, set_id)]


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, str | None]]:
    """Each member's head hash in an uninterrupted set (the same seeds)."""
    path = tmp_path_factory.mktemp("whole") / "whole.db"
    with open_store(path) as whole:
        rollout = _new_set(whole)
        status, reports = _run(whole, rollout)
        assert status is SetStatus.DONE and reports == []
        return [(i, h) for i, h, _ in _heads(whole, rollout.id)]


def test_a_dead_runner_s_members_are_taken_over_once_its_leases_lapse(
    store: SqlStore, expected: list[tuple[int, str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a short TTL for this runner: its renewals then often race its takes (they must not
    # stop a member it has just taken)
    monkeypatch.setenv(LEASE_ENV, "0.6")
    rollout = _new_set(store)
    held = [m.branch_id for m in repository(store).members(rollout.id)][:2]
    dead = RunLeases(store, owner="killed-runner", ttl=2.0)
    for branch_id in held:  # what `kill -9` mid-run leaves: running, a lease nobody renews
        dead.take(branch_id)
        store.set_status(branch_id, BranchStatus.RUNNING)

    status, reports = _run(store, rollout)

    assert status is SetStatus.DONE
    assert reports[0].waiting == 2 and reports[0].elsewhere == ()
    assert reports[-1].waiting == 0 and reports[-1].elsewhere == ()
    assert [(i, h) for i, h, _ in _heads(store, rollout.id)] == expected
    assert verify(store).ok


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from aegntix.timeline import open_store
    from aegntix.timeline.leases import RunLeases
    store = open_store(sys.argv[1])
    leases = RunLeases(store, owner="live-runner", ttl=float(sys.argv[2]))
    ids = sys.argv[3:]
    for branch_id in ids:
        leases.take(branch_id)
    print("held", flush=True)
    while True:  # alive: renewing until killed
        time.sleep(0.2)
        leases.renew(ids)
    """
)


def test_a_live_runner_s_members_are_left_to_it_and_the_set_stays_running(
    store: SqlStore,
    location: str,
    expected: list[tuple[int, str | None]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Short TTLs keep the waits short: this runner looks again a third of its TTL after it
    # first sees a lease (a renewal then tells a live runner), and the holder's leases lapse
    # within 4 s of its kill. The holder renews every 0.2 s: 20 renewals per TTL.
    monkeypatch.setenv(LEASE_ENV, "3")
    rollout = _new_set(store)
    held = [m.branch_id for m in repository(store).members(rollout.id)][:2]
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(location), "4", *held],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        status, reports = _run(store, rollout)
        assert status is SetStatus.RUNNING  # not partial: those members are being run
        assert sorted(reports[-1].elsewhere) == sorted(held) and reports[-1].waiting == 0
        after = {m["branch_id"]: m for m in members_view(store, rollout.id)}
        for member in repository(store).members(rollout.id):
            branch = after[member.branch_id]
            if member.branch_id in held:  # never run here: still at the fork point
                assert branch["status"] == "running" and branch["head_step"] == 1
            else:
                assert branch["status"] == "done"
    finally:
        holder.kill()  # kill -9: its leases lapse within their TTL
        holder.wait()

    status, reports = _run(store, rollout)
    assert status is SetStatus.DONE
    assert reports[0].waiting == 2 and reports[0].elsewhere == ()
    assert [(i, h) for i, h, _ in _heads(store, rollout.id)] == expected
    assert verify(store).ok


def test_worker_processes_take_over_a_dead_runner_s_members_and_report_the_wait(
    store: SqlStore, expected: list[tuple[int, str | None]]
) -> None:
    rollout = _new_set(store)
    held = [m.branch_id for m in repository(store).members(rollout.id)][:2]
    # the default TTL: workers take a few seconds to start, the leases must outlive that
    dead = RunLeases(store, owner="killed-runner", ttl=15.0)
    for branch_id in held:
        dead.take(branch_id)
        store.set_status(branch_id, BranchStatus.RUNNING)

    reports: list[Held] = []
    (settled,) = asyncio.run(run_sets(store, [rollout], processes=2, on_held=reports.append))

    assert settled.status is SetStatus.DONE
    # each worker reports its own share's wait (members are dealt round-robin): 1 and 1
    assert sorted(r.waiting for r in reports if r.waiting) == [1, 1]
    assert [(i, h) for i, h, _ in _heads(store, rollout.id)] == expected
    assert verify(store).ok
