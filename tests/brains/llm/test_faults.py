"""Every fault mode over real HTTP: retried with backoff, or ending as specified — a failed
run with nothing of the step written (resumable), or a recorded fallback — and the database
verifies afterwards."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from aegntix.engine import Runner, start_scenario
from aegntix.errors import ProviderError, ProviderUnavailable
from aegntix.model.events import BranchStatus
from aegntix.testing import FakeLLM, Reply
from aegntix.timeline import SqlStore, verify
from tests.brains.llm.support import (
    closed_port,
    decide_once,
    decisions,
    llm_scenario,
    run,
)

OK = Reply(answer={"action": "say", "content": "Fine, let us talk."})


@pytest.mark.parametrize(
    "fault",
    [
        Reply.status_code(429),
        Reply.status_code(500),
        Reply.status_code(502),
        Reply.status_code(503),
        Reply(drop=True),
        Reply(truncate=True, answer={"action": "pass"}),
        Reply.garbage(),
        Reply(body=b'{"object": "chat.completion"}'),  # JSON, but no choices
    ],
    ids=["429", "500", "502", "503", "dropped", "truncated", "non-json", "no-choices"],
)
def test_transient_faults_are_retried(fake: FakeLLM, fault: Reply):
    fake.script(fault, fault, OK)
    decision = decide_once(llm_scenario(fake))
    assert decision.content == "Fine, let us talk." and fake.count == 3
    assert decision.meta is not None
    assert decision.meta["attempts"] == 3 and decision.meta["fallback"] is None


def test_retry_after_is_honoured(fake: FakeLLM):
    fake.script(Reply.status_code(429, retry_after=0.4), OK)
    started = time.perf_counter()
    decide_once(llm_scenario(fake, backoff=0.001))
    assert time.perf_counter() - started >= 0.4 and fake.count == 2


def test_a_timeout_is_retried(fake: FakeLLM):
    fake.script(Reply(delay=1.0, answer={"action": "pass"}), OK)
    started = time.perf_counter()
    decision = decide_once(llm_scenario(fake, timeout=0.2))
    assert decision.content == "Fine, let us talk." and time.perf_counter() - started < 0.9


def test_backoff_grows_between_attempts(fake: FakeLLM):
    fake.script(*[Reply.status_code(503)] * 3, OK)
    started = time.perf_counter()
    decide_once(llm_scenario(fake, backoff=0.05))
    # 0.05, 0.1, 0.2 with equal jitter: at least half of each
    assert time.perf_counter() - started >= 0.175


def test_invalid_output_is_repaired_once(fake: FakeLLM):
    fake.script(Reply(answer="Sure! I think I'll make an offer of about 15k."), OK)
    decision = decide_once(llm_scenario(fake))
    assert decision.content == "Fine, let us talk." and fake.count == 2
    repair = fake.requests[1].json["messages"]
    assert repair[-2] == {
        "role": "assistant",
        "content": "Sure! I think I'll make an offer of about 15k.",
    }
    assert "not valid: no JSON object found" in repair[-1]["content"]
    assert decision.meta is not None and len(decision.meta["calls"]) == 2


def test_invalid_twice_falls_back_to_rules_and_says_so(store: SqlStore, fake: FakeLLM):
    fake.script(Reply(answer={"action": "act", "act": "fly"}), Reply(answer={"action": "dance"}))
    branch = start_scenario(store, llm_scenario(fake, steps=1))
    run(store, branch.id)
    first = decisions(list(store.events(branch.id)))[0]
    assert first.payload["fallback"] == "invalid_output"
    assert first.payload["error"].startswith("action: Input should be 'say', 'act' or 'pass'")
    assert (
        "act must be one of your actions now (none), not 'fly'"
        in (fake.requests[1].json["messages"][-1]["content"])
    )
    assert len(first.payload["calls"]) == 2  # both paid, both recorded
    assert fake.count == 4  # the other two agents decided with the model
    assert verify(store).ok


def test_a_refused_key_always_fails(fake: FakeLLM):
    fake.script(Reply.status_code(401))
    with pytest.raises(ProviderError, match="refused the API key"):
        decide_once(llm_scenario(fake, fallback="rules"))
    assert fake.count == 1  # not retried


def test_exhausted_retries_fall_back_to_rules_when_configured(store: SqlStore, fake: FakeLLM):
    fake.script(*[Reply.status_code(503)] * 4)
    branch = start_scenario(store, llm_scenario(fake, steps=1, fallback="rules"))
    summary = run(store, branch.id)
    assert summary.status is BranchStatus.DONE
    first = decisions(list(store.events(branch.id)))[0]
    assert first.payload["fallback"] == "provider_error" and first.payload["calls"] == []
    assert "after 4 attempts: HTTP 503" in first.payload["error"]
    assert verify(store).ok


def test_a_failing_provider_fails_the_run_without_writing_the_step(store: SqlStore, fake: FakeLLM):
    branch = start_scenario(store, llm_scenario(fake, steps=3, fallback="fail"))
    run(store, branch.id, 1)
    head = store.get_branch(branch.id)
    paid = fake.count
    # Step 2: the seller's call succeeds, the buyer's fails every attempt.
    fake.script(OK, *[Reply.status_code(500)] * 4)
    with pytest.raises(ProviderError, match="failed after 4 attempts: HTTP 500"):
        run(store, branch.id)
    after = store.get_branch(branch.id)
    assert after.status is BranchStatus.FAILED
    assert (after.head_seq, after.head_hash) == (head.head_seq, head.head_hash)
    assert verify(store).ok
    # Later (`aegntix continue`): the seller's reply is cached; only the rest is asked.
    before = fake.count
    summary = run(store, branch.id)
    assert summary.status is BranchStatus.DONE and summary.completed_step == 3
    assert fake.count - before == 2 + 3
    assert fake.count - paid == 1 + 4 + 5
    assert verify(store).ok


def test_connection_refused_fails_and_resumes_when_the_server_is_back(
    store: SqlStore, fake: FakeLLM
):
    port = closed_port()
    url = f"http://127.0.0.1:{port}/v1"
    branch = start_scenario(store, llm_scenario(None, steps=2, base_url=url, fallback="fail"))
    # the connection check finds nobody: no retries, the reason says where and what to read
    with pytest.raises(
        ProviderUnavailable, match=f"^no model server at http://127.0.0.1:{port} — see"
    ):
        run(store, branch.id)
    assert store.get_branch(branch.id).status is BranchStatus.FAILED
    assert store.get_branch(branch.id).head_step == 0
    assert verify(store).ok
    with FakeLLM(port=port) as back:
        summary = run(store, branch.id)
        assert summary.status is BranchStatus.DONE and back.count == 6
    assert verify(store).ok


def test_the_concurrency_limit_holds(store: SqlStore, fake: FakeLLM):
    fake.reset(lambda _: Reply(answer={"action": "pass"}, delay=0.05))
    scenario = llm_scenario(fake, "town-hall", steps=1, concurrency=3)
    data = scenario.model_dump(mode="json")
    data["turn_order"] = "simultaneous"
    branch = start_scenario(store, type(scenario).model_validate(data))
    run(store, branch.id)
    assert fake.count == len(scenario.agents) == 9
    assert fake.max_in_flight == 3


def test_the_rate_limiter_spaces_requests(fake: FakeLLM):
    from aegntix.brains.limits import TokenBucket

    async def burst() -> float:
        bucket = TokenBucket(per_minute=1200)  # 20/s, bursts of 20
        started = time.perf_counter()
        for _ in range(30):
            await bucket.take()
        return time.perf_counter() - started

    elapsed = asyncio.run(burst())
    assert 0.45 <= elapsed < 1.0


def test_runs_share_nothing_loop_bound_across_event_loops(store: SqlStore, fake: FakeLLM):
    """Every asyncio.run gets its own clients and limits (the CLI runs one loop per command)."""
    branch = start_scenario(store, llm_scenario(fake, steps=3))
    for _ in range(3):
        asyncio.run(Runner(store, branch.id).run(1))
    assert fake.count == 9
    replies = [json.loads(r.body)["model"] for r in fake.requests]
    assert replies == ["fake-1"] * 9


def test_a_shared_request_survives_its_owner_being_cancelled(fake: FakeLLM):
    import random as _random

    from aegntix.brains.registry import BrainContext, brain_for_config
    from aegntix.engine.observation import Window, observe
    from aegntix.model.state import initial_state

    fake.reset(lambda _: Reply(answer={"action": "say", "content": "Later."}, delay=0.2))
    scenario = llm_scenario(fake)
    agent = scenario.agents[0]
    view = observe(scenario, initial_state(scenario), agent.id, 1, Window(2))

    async def race() -> str:
        brains = [
            brain_for_config(scenario.brain_for(agent), context=BrainContext(), agent_id=agent.id)
            for _ in range(2)
        ]
        owner = asyncio.create_task(brains[0].decide(view, _random.Random(1)))
        await asyncio.sleep(0.05)  # the owner's request is in flight
        waiter = asyncio.create_task(brains[1].decide(view, _random.Random(1)))
        await asyncio.sleep(0.05)
        owner.cancel()
        decision = await waiter
        assert owner.cancelled()
        return decision.content

    assert asyncio.run(race()) == "Later."
    assert fake.count == 2  # the waiter asked again once the owner was gone


def test_many_slots_spread_over_several_small_connection_pools():
    """An SDK pool scans every pooled connection per request: past 16 slots the runtime
    holds several clients and hands them out in turn."""
    from aegntix.brains.limits import CONNECTIONS_PER_CLIENT, runtime_for
    from aegntix.model.scenario import BrainConfig

    made: list[object] = []

    def make() -> object:
        made.append(object())
        return made[-1]

    async def build(concurrency: int) -> list[object]:
        config = BrainConfig(kind="openai", model="m", concurrency=concurrency)
        runtime = await runtime_for(config, f"key-{concurrency}", make)
        return [runtime.next_client() for _ in range(2 * len(runtime.clients))]

    handed = asyncio.run(build(40))
    assert CONNECTIONS_PER_CLIENT == 16 and len(made) == 3
    assert set(map(id, handed)) == set(map(id, made))  # every client gets requests
    assert handed[:3] == handed[3:]  # in turn
    made.clear()
    assert len(set(map(id, asyncio.run(build(3))))) == 1 and len(made) == 1
