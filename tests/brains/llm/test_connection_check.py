"""The connection check before a run: a dead model server fails the run at once (no retries)
with a reason naming it, yet a replay needs no server and ``fallback: rules`` still runs."""

from __future__ import annotations

import json

import pytest

from aegntix.brains.cache import cache_for
from aegntix.engine import start_scenario
from aegntix.errors import ProviderError
from aegntix.model.events import BranchStatus
from aegntix.testing import FakeLLM, Reply
from aegntix.timeline import SqlStore, verify
from tests.brains.llm.support import closed_port, decisions, llm_scenario, own, run, signature


def test_a_dead_server_fails_the_first_step_at_once(
    store: SqlStore, fake: FakeLLM, capfd: pytest.CaptureFixture[str]
):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    # slow retries and a long timeout: were the address tried, this would take minutes
    scenario = llm_scenario(None, base_url=url, fallback="fail", backoff=30, timeout=120)
    branch = start_scenario(store, scenario)
    with pytest.raises(ProviderError, match=r"^no model server at http://127\.0\.0\.1:"):
        run(store, branch.id)
    logged = capfd.readouterr()
    assert "retrying" not in logged.out + logged.err  # the dead address was never tried
    failed = store.get_branch(branch.id)
    assert failed.status is BranchStatus.FAILED and failed.head_step == 0
    assert failed.failure is not None
    assert (failed.failure.type, failed.failure.step) == ("ProviderError", 1)
    assert failed.failure.detail.endswith("— see docs/brains.md")


def test_a_replay_runs_with_the_server_down(store: SqlStore, fake: FakeLLM):
    port = closed_port()
    url = f"http://127.0.0.1:{port}/v1"
    branch = start_scenario(store, llm_scenario(None, base_url=url, steps=3, fallback="fail"))
    with FakeLLM(port=port) as up:
        assert run(store, branch.id).status is BranchStatus.DONE
        paid = up.count
    assert paid == 9
    cache_for(None).forget_memory()
    fork = store.fork(branch.id, 0)
    summary = run(store, fork.id)  # every reply is recorded: nothing to call, nothing fails
    assert summary.status is BranchStatus.DONE
    assert store.get_branch(fork.id).failure is None
    assert signature(own(store, fork.id)) == [
        (e.seq, e.step, e.kind, e.agent_id, e.payload, e.hash, e.prev_hash)
        for e in list(store.events(branch.id))[fork.fork_seq :]
    ]
    assert verify(store).ok


def test_fallback_rules_decides_when_the_server_is_down(store: SqlStore, fake: FakeLLM):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    branch = start_scenario(store, llm_scenario(None, base_url=url, steps=1, fallback="rules"))
    assert run(store, branch.id).status is BranchStatus.DONE
    made = decisions(own(store, branch.id))
    assert made and all(d.payload["fallback"] == "provider_error" for d in made)
    assert all("no model server at" in d.payload["error"] for d in made)


def test_a_recorded_reason_carries_no_credentials(store: SqlStore, fake: FakeLLM):
    """A provider that echoes credentials in its error: the branch's reason is scrubbed."""
    leaked = (
        "bad request: key sk-proj-LEAKED0123456789abcdef, Bearer tok.LEAKED.0123 api_key=hunter22"
    )
    body = json.dumps({"error": {"message": leaked, "type": "invalid_request"}}).encode()
    fake.script(Reply(status=400, body=body))
    branch = start_scenario(store, llm_scenario(fake, steps=1, fallback="fail"))
    with pytest.raises(ProviderError):
        run(store, branch.id)
    failure = store.get_branch(branch.id).failure
    assert failure is not None and "HTTP 400" in failure.detail
    assert "LEAKED" not in failure.detail and "hunter22" not in failure.detail
    assert "[redacted]" in failure.detail and "api_key=[redacted]" in failure.detail
