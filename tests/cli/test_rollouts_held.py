"""`aegntix rollouts continue` says what it waits for: members a dead runner's leases hold."""

from __future__ import annotations

from pathlib import Path

from aegntix.analysis.rollouts import create_set, repository
from aegntix.model.events import BranchStatus
from aegntix.timeline import open_store
from aegntix.timeline.leases import RunLeases
from tests.cli.test_rollouts_cli import aegntix, root


def test_continue_waits_for_a_dead_runner_s_member_says_so_and_finishes(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    parent = root(db)
    with open_store(db) as store:
        set_id = create_set(store, parent, 1, 3).id
        member = repository(store).members(set_id)[1].branch_id
        # what a runner killed mid-member leaves: the branch running, a lease nobody renews
        RunLeases(store, owner="killed-runner", ttl=8.0).take(member)  # outlives a slow start
        store.set_status(member, BranchStatus.RUNNING)

    out = aegntix("rollouts", "continue", set_id[:6], "--db", db)

    assert "waiting for 1 member(s) held by a previous runner" in out, out
    assert "running in another process" not in out, out
    assert f"set {set_id} · done · 3 members" in out, out
