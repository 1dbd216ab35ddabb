"""The one-pass reading of a set (``produced``) gives exactly what the per-member timeline
walks (``set_outcomes``, ``set_series``) give, so the statistics are unchanged; and the
statistics cache never answers for sets that changed."""

from __future__ import annotations

import asyncio

from aegntix.analysis.produced import Produced, read_set
from aegntix.analysis.rollouts import (
    create_set,
    extend_set,
    members_view,
    repository,
    run_sets,
    set_outcomes,
    set_series,
    with_control,
)
from aegntix.analysis.study import ALIKE_NOTE, _stats, set_stats
from aegntix.model.events import BranchStatus, EventKind, NewEvent
from aegntix.model.outcomes import compute_outcomes
from aegntix.model.scenario import stored_scenario
from aegntix.timeline import SqlStore
from aegntix.timeline.state import state_at
from aegntix.timeline.store import Store
from aegntix.timeline.tenancy import TenantStore
from tests.analysis.helpers import NEWS, run_all
from tests.engine.helpers import run, run_new
from tests.support import example


def exact(store: Store, set_id: str) -> Produced:
    """The old way: each member's outcomes recomputed from its state, its series walked."""
    rollout = repository(store).get(set_id)
    scenario = stored_scenario(store.get_scenario(rollout.scenario_id).spec)
    finals = [
        compute_outcomes(scenario, state_at(store, m.branch_id))
        if store.get_branch(m.branch_id).status is BranchStatus.DONE
        else None
        for m in repository(store).members(set_id)
    ]
    return Produced(set_outcomes(store, set_id), set_series(store, set_id), finals)


def test_one_pass_equals_the_timeline_walks_on_a_real_set(store: SqlStore) -> None:
    parent = run_new(store, example("town-hall"), steps=3)
    made = create_set(store, parent, 2, 5, NEWS)
    assert made.control_id is not None
    repo = repository(store)
    members = repo.members(made.id)
    for member in members[:3]:
        run(store, member.branch_id)
    run(store, members[3].branch_id, steps=2)  # unfinished: None, a shorter series
    # a change after the end: the head is no step_end, so the final values are read exactly
    late = store.get_branch(members[0].branch_id)
    patch = {"set": {"agents.mayor.stance": -1.0}}
    store.append(late.id, [NewEvent(late.head_step, EventKind.WORLD, patch)])
    asyncio.run(run_sets(store, [repo.get(made.control_id)]))
    for set_id in (made.id, made.control_id):
        assert read_set(store, repo, set_id) == exact(store, set_id)
    fast = set_stats(store, made.id)
    old = _stats(made.id, made.control_id, True, exact(store, made.id),
                 exact(store, made.control_id), 0)  # fmt: skip
    del fast["notes"]  # from the scenario, beside _stats (test_study checks them)
    assert fast == old
    assert fast["outcomes"]["mean_stance"]["summary"]["n"] == 3  # the unfinished one left out
    late_mean = read_set(store, repo, made.id).outcomes["mean_stance"][0]
    assert late_mean != read_set(store, repo, made.id).series["mean_stance"][0][-1]


def test_members_view_gives_each_members_head_and_recomputed_outcomes(store: SqlStore) -> None:
    parent = run_new(store, example("town-hall"), steps=3)
    made = create_set(store, parent, 2, 4)
    members = repository(store).members(made.id)
    for member in members[:2]:
        run(store, member.branch_id)
    run(store, members[2].branch_id, steps=1)
    scenario = stored_scenario(store.get_scenario(made.scenario_id).spec)
    expected = []
    for member in members:
        branch = store.get_branch(member.branch_id)
        done = branch.status is BranchStatus.DONE
        expected.append(
            {
                "index": member.index,
                "branch_id": branch.id,
                "seed": member.seed,
                "status": branch.status.value,
                "head_step": branch.head_step,
                "head_hash": branch.head_hash,
                "outcomes": compute_outcomes(scenario, state_at(store, branch.id))
                if done
                else None,
            }
        )
    assert members_view(store, made.id) == expected
    assert [m["outcomes"] is not None for m in expected] == [True, True, False, False]


def test_a_tenants_set_reads_the_same_both_ways(store: SqlStore) -> None:
    tenant = TenantStore(store, "acme")
    parent = run_new(tenant, example("town-hall"), steps=2)  # type: ignore[arg-type]
    made = create_set(tenant, parent, 1, 3, NEWS)
    run_all(tenant, made.id)
    got = read_set(tenant, repository(tenant), made.id)
    assert got == exact(tenant, made.id)
    assert all(v is not None for v in got.outcomes["mean_stance"])


def test_stats_are_recomputed_when_a_member_changes(store: SqlStore) -> None:
    parent = run_new(store, example("town-hall"), steps=2)
    made = create_set(store, parent, 1, 3, NEWS)
    sets = with_control(repository(store), made.id)
    asyncio.run(run_sets(store, sets))
    first = set_stats(store, made.id)
    again = set_stats(store, made.id)
    assert again == first and again is not first
    again["outcomes"].clear()  # the caller's copy: the cache is not touched
    assert set_stats(store, made.id) == first

    extend_set(store, made.id, 4)  # new members: unfinished, then run
    grown = set_stats(store, made.id)
    assert grown["outcomes"]["mean_stance"]["summary"]["n"] == 3
    asyncio.run(run_sets(store, sets))
    done = set_stats(store, made.id)
    assert done["outcomes"]["mean_stance"]["summary"]["n"] == 4
    assert done.pop("notes") == [ALIKE_NOTE]
    assert done == _stats(made.id, made.control_id, True, exact(store, made.id),
                          exact(store, sets[1].id), 0)  # fmt: skip


def test_a_status_change_alone_is_seen(store: SqlStore) -> None:
    parent = run_new(store, example("town-hall"), steps=2)
    made = create_set(store, parent, 1, 2)
    asyncio.run(run_sets(store, [made]))
    assert set_stats(store, made.id)["outcomes"]["mean_stance"]["summary"]["n"] == 2
    member = repository(store).members(made.id)[0]
    store.set_status(member.branch_id, BranchStatus.PAUSED)  # same events, not finished
    assert set_stats(store, made.id)["outcomes"]["mean_stance"]["summary"]["n"] == 1
