"""Runs with the ``openai`` provider over real HTTP: recorded calls, and invariants 3 and 4
with a model (a fork with no injection and a re-run make zero requests)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import delete, select

from aegntix.brains.cache import cache_for, warm_from_events
from aegntix.engine import Runner, Scheduler, start_scenario
from aegntix.inject import inject
from aegntix.model.events import BranchStatus, EventKind
from aegntix.testing import FakeLLM, Reply
from aegntix.timeline import SqlStore, open_sqlite_store, verify
from aegntix.timeline.schema import llm_cache
from tests.brains.llm.support import KEY, decisions, llm_scenario, own, run, signature


def test_a_run_calls_the_model_once_per_decision_and_records_each_call(
    store: SqlStore, fake: FakeLLM
):
    branch = start_scenario(store, llm_scenario(fake, steps=3))
    summary = run(store, branch.id)
    assert summary.status is BranchStatus.DONE and summary.completed_step == 3
    events = list(store.events(branch.id))
    recorded = decisions(events)
    assert len(recorded) == 9 == fake.count  # 3 agents x 3 steps, one request each
    assert all(r.path == "/v1/chat/completions" for r in fake.requests)
    assert {r.headers["authorization"] for r in fake.requests} == {f"Bearer {KEY}"}
    body = fake.requests[0].json
    assert body["model"] == "fake-1" and body["response_format"] == {"type": "json_object"}
    assert (
        body["messages"][0]["role"] == "system" and "Sam Ortega" in body["messages"][0]["content"]
    )
    for event in recorded:  # a decision event right before what the agent said
        nxt = events[events.index(event) + 1]
        assert nxt.kind == EventKind.MESSAGE and nxt.agent_id == event.agent_id
        (call,) = event.payload["calls"]
        assert json.loads(call["reply"])["content"] == nxt.payload["text"]
        assert len(call["digest"]) == 64 and call["tokens_in"] > 0 and call["tokens_out"] > 0
        assert call["cost"] == round(call["tokens_in"] * 0.0005 + call["tokens_out"] * 0.0015, 10)
        assert event.payload["provider"] == "openai" and event.payload["fallback"] is None
        assert not {"cached", "attempts", "latency_ms"} & set(event.payload)
    assert verify(store).ok


def test_fork_without_injection_makes_no_requests_and_reproduces_the_parent(
    store: SqlStore, fake: FakeLLM
):
    parent = start_scenario(store, llm_scenario(fake, steps=4))
    run(store, parent.id)
    paid = fake.count
    for at in (0, 2, 4):
        child = store.fork(parent.id, at)
        run(store, child.id)
        assert signature(own(store, child.id)) == signature(
            list(store.events(parent.id, from_seq=child.fork_seq + 1))
        )
        assert store.get_branch(child.id).head_hash == store.get_branch(parent.id).head_hash
    assert fake.count == paid  # invariant 3 with a model: every reply came from the cache
    assert verify(store).ok


def test_fork_with_injection_pays_only_where_observations_changed(store: SqlStore, fake: FakeLLM):
    parent = start_scenario(store, llm_scenario(fake, steps=4))
    run(store, parent.id)
    before = fake.count
    news = "Your lease ends Friday."
    fork = inject(
        store, parent.id, news, targets=["buyer"], strategy="direct", at_step=2, new_branch=True
    ).branch
    run(store, fork.id)
    # Step 3: the seller does not see the buyer's private news -> same prompt -> cache hit.
    # The buyer's prompt differs, so its reply does, and every later prompt too.
    assert fake.count - before == len(decisions(own(store, fork.id))) - 1 == 5
    assert news in fake.requests[before].json["messages"][1]["content"]


def test_rerunning_a_scenario_in_the_same_database_makes_no_requests(
    store: SqlStore, fake: FakeLLM
):
    scenario = llm_scenario(fake, steps=3)
    first = start_scenario(store, scenario)
    run(store, first.id)
    paid = fake.count
    again = start_scenario(store, scenario)
    run(store, again.id)
    assert fake.count == paid
    assert signature(list(store.events(again.id))) == signature(list(store.events(first.id)))


def test_after_a_restart_the_database_cache_answers(tmp_path: Path, fake: FakeLLM):
    path = tmp_path / "t.db"
    with open_sqlite_store(path) as store:
        parent = start_scenario(store, llm_scenario(fake, steps=3))
        run(store, parent.id)
    paid = fake.count
    with open_sqlite_store(path) as store:  # a new process's view: empty memory tier
        child = store.fork(parent.id, 1)
        run(store, child.id)
        assert cache_for(store).db_hits == 6 and cache_for(store).memory_hits == 0
    assert fake.count == paid


def test_recorded_replies_replay_a_branch_without_the_cache(tmp_path: Path, fake: FakeLLM):
    """Invariant 4: the timeline alone is enough to re-run a branch — in a fresh database,
    or after the cache table was purged — with zero requests."""
    scenario = llm_scenario(fake, steps=3)
    with open_sqlite_store(tmp_path / "a.db") as store:
        original = start_scenario(store, scenario)
        run(store, original.id)
        paid = fake.count
        expected = signature(list(store.events(original.id)))

        store.write(lambda c: c.execute(delete(llm_cache)))  # purge both tiers
        cache_for(store).forget_memory()
        assert warm_from_events(store, original.id) == 9
        replay = store.fork(original.id, 0)
        run(store, replay.id)
        assert fake.count == paid
        assert store.get_branch(replay.id).head_hash == store.get_branch(original.id).head_hash

        # Without the explicit warm-up: a fork mid-way reads the timeline on its first miss.
        store.write(lambda c: c.execute(delete(llm_cache)))
        cache_for(store).forget_memory()
        mid = store.fork(original.id, 1)
        run(store, mid.id)
        assert fake.count == paid
        assert store.get_branch(mid.id).head_hash == store.get_branch(original.id).head_hash

        with open_sqlite_store(tmp_path / "b.db") as fresh:
            warm_from_events(store, original.id, into=fresh)
            copy = start_scenario(fresh, scenario)
            run(fresh, copy.id)
            assert signature(list(fresh.events(copy.id))) == expected
            assert verify(fresh).ok
    assert fake.count == paid

    with open_sqlite_store(tmp_path / "c.db") as control:  # without the recorded replies
        again = start_scenario(control, scenario)
        run(control, again.id)
    assert fake.count == paid + 9


def test_the_cache_row_is_written_once_and_names_who_paid(store: SqlStore, fake: FakeLLM):
    branch = start_scenario(store, llm_scenario(fake, steps=2))
    run(store, branch.id)
    run(store, store.fork(branch.id, 0).id)
    with store.engine.connect() as conn:
        rows = conn.execute(select(llm_cache)).mappings().all()
    assert len(rows) == 6 == fake.count
    assert {r["branch_id"] for r in rows} == {branch.id}
    assert {r["agent_id"] for r in rows} == {"seller", "buyer", "mediator"}
    assert {r["tenant_id"] for r in rows} == {"default"}
    assert all(r["provider"] == "openai" and r["model"] == "fake-1" for r in rows)


def test_an_agent_can_keep_the_rules_brain(store: SqlStore, fake: FakeLLM):
    scenario = llm_scenario(fake, steps=3)
    data = scenario.model_dump(mode="json")
    data["agents"][2]["brain"] = {"kind": "rules"}  # the mediator
    data["agents"][0]["brain"] = {"temperature": 0.0, "model": "other-model"}
    mixed = type(scenario).model_validate(data)
    branch = start_scenario(store, mixed)
    run(store, branch.id)
    recorded = decisions(list(store.events(branch.id)))
    assert {e.agent_id for e in recorded} == {"seller", "buyer"}
    assert fake.count == 6
    models = {r.json["model"] for r in fake.requests}
    assert models == {"fake-1", "other-model"}


def test_sampling_temperature_makes_seeds_matter(store: SqlStore, fake: FakeLLM):
    scenario = llm_scenario(fake, steps=1, temperature=0.8)
    for seed in (1, 2, 1):
        run(store, start_scenario(store, scenario, seed=seed).id)
    assert fake.count == 6  # seed 1 again: all hits
    seeds = [r.json["seed"] for r in fake.requests]
    assert len(set(seeds)) == 6


def test_sibling_forks_running_together_share_one_request_per_prompt(
    store: SqlStore, fake: FakeLLM
):
    parent = start_scenario(store, llm_scenario(fake, steps=2))
    run(store, parent.id, 1)
    fake.reset(lambda _: Reply(answer={"action": "say", "content": "steady"}, delay=0.05))
    forks = [store.fork(parent.id, 1) for _ in range(3)]

    async def together() -> None:
        await Scheduler(store, concurrency=3).run_all([f.id for f in forks])

    asyncio.run(together())
    assert fake.count == 3  # step 2's three prompts, each asked once for three forks
    heads = {store.get_branch(f.id).head_hash for f in forks}
    assert len(heads) == 1
    assert all(Runner(store, f.id).is_done() for f in forks)
