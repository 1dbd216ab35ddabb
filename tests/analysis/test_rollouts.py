"""Rollout sets (issue 11): members reproduce forks run alone, intervention/control pairs,
isolation, continue after an interruption, extend."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aegntix.analysis.records import member_seed
from aegntix.analysis.rollouts import (
    InjectionSpec,
    create_set,
    extend_set,
    members_view,
    repository,
    set_outcomes,
    set_series,
)
from aegntix.errors import ForkOutOfRange, InvalidRequest, RolloutSetNotFound
from aegntix.model.events import BranchStatus
from aegntix.timeline import SqlStore, open_sqlite_store
from aegntix.timeline.tenancy import TenantStore
from tests.analysis.helpers import NEWS, run_all
from tests.engine.helpers import own_events, run, run_new, signature
from tests.engine.scenarios import scenarios
from tests.support import example


def heads(store: SqlStore, set_id: str) -> list[tuple[int, str, str]]:
    return [(m["index"], m["head_hash"], m["status"]) for m in members_view(store, set_id)]


@pytest.fixture
def town(store: SqlStore) -> str:
    return run_new(store, example("town-hall"), steps=3)


@given(scenario=scenarios(), n=st.integers(1, 4), fraction=st.floats(0, 1))
def test_member_equals_the_fork_with_its_seed_run_alone(tmp_path_factory, scenario, n, fraction):
    """Member i == fork(parent, k, seed=seed_i) run alone: same events and head hash."""
    store = open_sqlite_store(tmp_path_factory.mktemp("members") / "t.db", snapshot_every=7)
    try:
        parent = run_new(store, scenario)
        k = round(fraction * store.get_branch(parent).head_step)
        made = create_set(store, parent, k, n)
        run_all(store, made.id)
        for member in repository(store).members(made.id):
            assert member.seed == member_seed(made.seed_base, member.index)
            alone = store.fork(parent, k, seed=member.seed)
            run(store, alone.id)
            got = store.get_branch(member.branch_id)
            assert signature(own_events(store, member.branch_id, got.fork_seq)) == signature(
                own_events(store, alone.id, alone.fork_seq)
            )
            assert got.head_hash == store.get_branch(alone.id).head_hash
    finally:
        store.close()


def test_intervention_and_control_are_paired(store: SqlStore, town: str) -> None:
    made = create_set(store, town, 2, 3, NEWS)
    assert made.control_id is not None
    run_all(store, made.id)
    repo = repository(store)
    control = repo.get(made.control_id)
    assert control.injection is None and control.seed_base == made.seed_base
    treated, controls = repo.members(made.id), repo.members(control.id)
    assert [m.seed for m in treated] == [m.seed for m in controls]
    assert len({m.seed for m in treated}) == 3  # each member its own future
    for t, c in zip(treated, controls, strict=True):
        tb, cb = store.get_branch(t.branch_id), store.get_branch(c.branch_id)
        assert tb.fork_seq == cb.fork_seq and tb.seed == cb.seed
        # identical up to the injection: the same history, then the injection comes first
        assert signature(list(store.events(tb.id, to_seq=tb.fork_seq))) == signature(
            list(store.events(cb.id, to_seq=cb.fork_seq))
        )
        first = next(iter(store.events(tb.id, from_seq=tb.fork_seq + 1)))
        assert first.kind == "injection" and first.payload["content"] == NEWS.content
        # the control member is exactly the plain fork with that seed, run alone
        alone = store.fork(town, 2, seed=c.seed)
        run(store, alone.id)
        assert store.get_branch(alone.id).head_hash == cb.head_hash
    assert all(s is not None for s in set_outcomes(store, made.id)["approved"])
    # a second intervention from the same point reuses the control
    again = create_set(store, town, 2, 3, InjectionSpec("Taxes go up.", strategy="broadcast"))
    assert again.control_id == control.id


def test_members_never_see_each_others_events(store: SqlStore, town: str) -> None:
    made = create_set(store, town, 1, 3)
    run_all(store, made.id)
    members = repository(store).members(made.id)
    mine = {m.branch_id for m in members}
    for m in members:
        branch = store.get_branch(m.branch_id)
        lineage = {b.id for b in store.lineage(m.branch_id)}
        assert lineage & mine == {m.branch_id}
        holders = {e.branch_id for e in store.events(m.branch_id)}
        assert holders <= lineage and branch.parent_id == town


def test_continue_after_an_interruption_matches_an_uninterrupted_set(tmp_path) -> None:
    results = []
    for name, interrupt in (("whole", False), ("cut", True)):
        store = open_sqlite_store(tmp_path / f"{name}.db")
        try:
            parent = run_new(store, example("town-hall"), steps=2)
            made = create_set(store, parent, 1, 4, NEWS)
            if interrupt:
                # as a crash leaves it: two members finished, one half run, one untouched
                repo = repository(store)
                members = [m.branch_id for m in repo.members(made.id)]
                for b in members[:2]:
                    run(store, b)
                run(store, members[2], steps=2)
                kept = {b: store.get_branch(b).head_hash for b in members[:2]}
                run_all(store, made.id)
                # the finished ones were not re-run (not a single event more)
                for b, head in kept.items():
                    assert store.get_branch(b).head_hash == head
                assert repo.get(made.id).status.value == "done"
            else:
                run_all(store, made.id)
            results.append(
                (
                    [h for _, h, _ in heads(store, made.id)],
                    set_outcomes(store, made.id),
                    set_series(store, made.id),
                )
            )
        finally:
            store.close()
    assert results[0] == results[1]


def test_extend_keeps_the_first_members_untouched(store: SqlStore, town: str) -> None:
    made = create_set(store, town, 2, 2, NEWS)
    run_all(store, made.id)
    before = heads(store, made.id)
    repo = repository(store)
    assert made.control_id is not None
    control_before = heads(store, made.control_id)
    seen: list[tuple[str, int, int]] = []
    extend_set(store, made.id, 4)
    run_all(store, made.id, on_progress=lambda s, d, t: seen.append((s, d, t)))
    after = heads(store, made.id)
    assert after[:2] == before and len(after) == 4
    assert heads(store, made.control_id)[:2] == control_before
    assert [m.seed for m in repo.members(made.id)] == [
        member_seed(made.seed_base, i) for i in range(4)
    ]
    assert (made.id, 4, 4) in seen and (made.control_id, 4, 4) in seen
    assert all(s == BranchStatus.DONE.value for _, _, s in after)


def test_bad_input_writes_nothing(store: SqlStore, town: str) -> None:
    before = len(store.list_branches())
    with pytest.raises(InvalidRequest, match=r"^n: "):
        create_set(store, town, 1, 0)
    with pytest.raises(ForkOutOfRange, match="at_step"):
        create_set(store, town, 99, 2)
    with pytest.raises(InvalidRequest, match=r"^targets: "):
        create_set(store, town, 1, 2, InjectionSpec("hi", strategy="direct", targets=["nobody"]))
    assert len(store.list_branches()) == before
    assert repository(store).list_sets() == []


def test_sets_are_tenant_scoped(store: SqlStore, town: str) -> None:
    made = create_set(store, town, 1, 1)
    other = TenantStore(store, "other")
    with pytest.raises(RolloutSetNotFound):
        repository(other).get(made.id)
    assert repository(other).list_sets() == []
