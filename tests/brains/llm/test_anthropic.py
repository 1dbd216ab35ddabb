"""The ``anthropic`` provider through the official SDK against the fake's /v1/messages:
tool use for structured output, retries, and the same record/replay guarantees."""

from __future__ import annotations

import json

from aegntix.engine import start_scenario
from aegntix.testing import FakeLLM, Reply
from aegntix.timeline import SqlStore, verify
from tests.brains.llm.support import KEY, decide_once, decisions, llm_scenario, own, run, signature


def test_a_run_uses_tool_use_and_forks_for_free(store: SqlStore, fake: FakeLLM):
    parent = start_scenario(store, llm_scenario(fake, steps=3, kind="anthropic", max_tokens=300))
    run(store, parent.id)
    assert fake.count == 9
    body = fake.requests[0].json
    assert fake.requests[0].path == "/v1/messages"
    assert body["tool_choice"] == {"type": "tool", "name": "decide"}
    assert body["tools"][0]["input_schema"]["required"] == ["action"]
    assert body["max_tokens"] == 300 and body["temperature"] == 0
    assert "Sam Ortega" in body["system"] and body["messages"][0]["role"] == "user"
    headers = fake.requests[0].headers
    assert KEY in headers.get("x-api-key", "") + headers.get("authorization", "")
    recorded = decisions(list(store.events(parent.id)))
    assert {e.payload["provider"] for e in recorded} == {"anthropic"}
    reply = json.loads(recorded[0].payload["calls"][0]["reply"])
    assert reply["action"] == "say"

    child = store.fork(parent.id, 1)
    run(store, child.id)
    assert fake.count == 9
    assert signature(own(store, child.id)) == signature(
        list(store.events(parent.id, from_seq=child.fork_seq + 1))
    )
    assert verify(store).ok


def test_sampling_sends_no_seed_but_seeds_still_separate_replies(store: SqlStore, fake: FakeLLM):
    scenario = llm_scenario(fake, steps=1, kind="anthropic", temperature=0.7)
    for seed in (1, 2, 1):
        run(store, start_scenario(store, scenario, seed=seed).id)
    assert fake.count == 6
    assert all("seed" not in r.json and r.json["temperature"] == 0.7 for r in fake.requests)


def test_overloaded_is_retried_and_text_replies_are_parsed(fake: FakeLLM):
    fake.script(
        Reply.status_code(529, retry_after=0.01),
        Reply(answer='{"action": "say", "content": "Plain text JSON works too."}'),
    )
    decision = decide_once(llm_scenario(fake, kind="anthropic"))
    assert decision.content == "Plain text JSON works too." and fake.count == 2
