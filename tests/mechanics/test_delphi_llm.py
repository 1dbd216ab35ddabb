"""A Delphi panel of LLM brains against the fake OpenAI-compatible provider on loopback: the
prompt carries the question's format, the panelist's own prior and the feedback (median, IQR)
but never another panelist's estimate; the model's numeric ``estimate`` field drives the
rounds; a fork with no intervention replays from the cache without a request."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from aegntix.brains.cache import cache_for
from aegntix.engine import Runner, start_scenario
from aegntix.model.loading import validate_scenario
from aegntix.testing import FakeLLM
from aegntix.testing.fake_llm import Reply, Request
from aegntix.timeline import SqlStore

KEY_ENV = "AEGNTIX_TEST_DELPHI_KEY"
PRIORS = {"a": 100.0, "b": 160.0, "c": 200.0, "d": 260.0, "e": 400.0}


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


@pytest.fixture
def fake(fake_server: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> FakeLLM:
    fake_server.reset(panelist)
    monkeypatch.setenv(KEY_ENV, "sk-test-delphi")
    monkeypatch.setenv("AEGNTIX_SECRETS", "/nonexistent/aegntix-secrets.env")
    cache_for(None).forget_memory()
    return fake_server


def _number(pattern: str, text: str) -> float | None:
    found = re.search(pattern, text)
    return float(found.group(1)) if found else None


def panelist(request: Request) -> Reply:
    """Round 1: the prior the system prompt states; then halfway to the median fed back."""
    text = request.prompt_text()
    prior = _number(r"before the panel met: (-?[\d.]+)", text)
    own = _number(r"_estimate (-?[\d.]+)", text)
    median = _number(r"delphi_median = (-?[\d.]+)", text)
    now = own if own is not None else prior
    assert now is not None
    if median is not None:
        now += 0.5 * (median - now)
    return Reply(answer={"action": "pass", "estimate": now})


def _scenario(fake: FakeLLM) -> Any:
    return validate_scenario(
        {
            "name": "LLM panel",
            "topic": "the number of people hurt",
            "seed": 2,
            "mechanics": {"delphi": {"iqr_threshold": 20}},
            "brain": {
                "kind": "openai",
                "model": "fake-1",
                "base_url": fake.openai_url,
                "api_key_env": KEY_ENV,
                "backoff": 0.01,
                "timeout": 5,
                "fallback": "fail",
            },
            "agents": [
                {"id": k, "name": f"Analyst {k.upper()}", "role": "analyst", "estimate": v}
                for k, v in PRIORS.items()
            ],
            "termination": {"max_steps": 10, "when": "concluded"},
            "outcomes": {"decision": "decision", "decided_round": "decided_round"},
        }
    )


def test_an_llm_panel_converges_on_the_feedback_it_is_prompted_with(store: SqlStore, fake: FakeLLM):
    branch = start_scenario(store, _scenario(fake))
    summary = asyncio.run(Runner(store, branch.id).run())
    rounds = [e.payload for e in store.events(branch.id) if e.payload.get("cause") == "delphi"]
    # priors: IQR 100 around a median of 200; halving each round: 100, 50, 25, 12.5
    assert [r["iqr"] for r in rounds] == [100, 50, 25, 12.5]
    assert summary.outcomes == {"decision": 200, "decided_round": 4}
    assert fake.count == 4 * len(PRIORS)

    asks = [r.json for r in fake.requests]
    system = asks[0]["messages"][0]["content"]
    assert "Delphi" in system and '"estimate":{"anyOf"' in system
    later = [m["messages"][1]["content"] for m in asks[len(PRIORS) :]]
    assert all("delphi_median = 200" in u and "delphi_iqr" in u for u in later)
    # a panelist's prompt shows its own estimate, never another's
    second_a = next(m for m in asks[len(PRIORS) :] if "Analyst A" in m["messages"][0]["content"])
    user = second_a["messages"][1]["content"]
    assert "_estimate 100" in user
    assert not any(f"_estimate {v:g}" in user for k, v in PRIORS.items() if k != "a")

    # the estimate never travels on a message; the model's replies are recorded
    decisions = [e for e in store.events(branch.id) if e.kind == "decision"]
    assert len(decisions) == 4 * len(PRIORS)
    assert all("estimate" not in json.dumps(e.payload.get("fields", {})) for e in decisions)


def test_a_fork_of_an_llm_panel_replays_without_asking_the_model(store: SqlStore, fake: FakeLLM):
    branch = start_scenario(store, _scenario(fake))
    asyncio.run(Runner(store, branch.id).run())
    paid = fake.count
    child = store.fork(branch.id, at_step=1)
    asyncio.run(Runner(store, child.id).run())
    assert fake.count == paid
    assert [e.hash for e in store.events(child.id)] == [e.hash for e in store.events(branch.id)]


def test_a_bad_estimate_is_asked_again(store: SqlStore, fake: FakeLLM):
    fake.script(Reply(answer={"action": "pass", "estimate": "lots"}))
    branch = start_scenario(store, _scenario(fake))
    asyncio.run(Runner(store, branch.id).run(1))
    repair = fake.requests[1].json["messages"]
    assert "estimate: an estimate is a finite number" in repair[-1]["content"]
    first = next(e.payload for e in store.events(branch.id) if e.payload.get("cause") == "delphi")
    assert first["n"] == len(PRIORS)
