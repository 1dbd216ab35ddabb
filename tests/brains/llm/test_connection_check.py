"""The connection check before a run: a dead model server fails the run at once (no retries)
with a reason naming it, yet a replay needs no server and ``fallback: rules`` still runs. No
server (refused, unknown host, no answer) is the transient ``ProviderUnavailable`` whether the
check or a call finds it; an address that cannot be tried is a permanent ``ProviderError``."""

from __future__ import annotations

import contextlib
import json
import socket

import pytest

from aegntix.brains.cache import cache_for
from aegntix.brains.reachability import probe
from aegntix.engine import start_scenario
from aegntix.errors import ProviderError, ProviderUnavailable, is_transient
from aegntix.model.events import BranchStatus
from aegntix.testing import FakeLLM, Reply
from aegntix.timeline import SqlStore, verify
from tests.brains.llm.support import (
    closed_port,
    decide_once,
    decisions,
    llm_scenario,
    own,
    run,
    signature,
)


def test_a_dead_server_fails_the_first_step_at_once(
    store: SqlStore, fake: FakeLLM, capfd: pytest.CaptureFixture[str]
):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    # slow retries and a long timeout: were the address tried, this would take minutes
    scenario = llm_scenario(None, base_url=url, fallback="fail", backoff=30, timeout=120)
    branch = start_scenario(store, scenario)
    with pytest.raises(ProviderUnavailable, match=r"^no model server at http://127\.0\.0\.1:"):
        run(store, branch.id)
    logged = capfd.readouterr()
    assert "retrying" not in logged.out + logged.err  # the dead address was never tried
    failed = store.get_branch(branch.id)
    assert failed.status is BranchStatus.FAILED and failed.head_step == 0
    assert failed.failure is not None
    assert (failed.failure.type, failed.failure.step) == ("ProviderUnavailable", 1)
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


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
@pytest.mark.parametrize("where", ["refused", "unknown host"])
def test_no_server_at_the_check_is_transient(store: SqlStore, fake: FakeLLM, kind: str, where: str):
    host = f"127.0.0.1:{closed_port()}" if where == "refused" else "no-model-server.invalid:8080"
    url = f"http://{host}" + ("/v1" if kind == "openai" else "")
    branch = start_scenario(store, llm_scenario(None, base_url=url, kind=kind, fallback="fail"))
    with pytest.raises(ProviderUnavailable, match=f"^no model server at http://{host} ") as got:
        run(store, branch.id)
    assert is_transient(got.value) and got.value.retry_after
    failure = store.get_branch(branch.id).failure
    assert failure is not None and failure.type == "ProviderUnavailable"


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_server_gone_after_the_check_is_transient_through_the_wire(fake: FakeLLM, kind: str):
    """No check in between (``decide_once`` calls the brain directly): each wire's SDK meets
    the closed port, retries, and gives up with ``ProviderUnavailable``."""
    url = f"http://127.0.0.1:{closed_port()}" + ("/v1" if kind == "openai" else "")
    scenario = llm_scenario(None, base_url=url, kind=kind, fallback="fail", max_retries=1)
    with pytest.raises(ProviderUnavailable, match="after 2 attempts: connection failed") as got:
        decide_once(scenario)
    assert is_transient(got.value)


async def test_the_probe_tells_no_answer_from_no_address(fake: FakeLLM) -> None:
    """Refused and timed out (a listener whose accept queue is full, as a hung server's
    is) are transient; a port that cannot exist is permanent."""
    refused = await probe(f"http://127.0.0.1:{closed_port()}")
    assert refused is not None and isinstance(refused.error(), ProviderUnavailable)
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(0)  # never accepted: once the queue is full, connections go unanswered
        port = hung.getsockname()[1]
        queued = [socket.socket() for _ in range(4)]
        for s in queued:
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(("127.0.0.1", port))
        try:
            silent = await probe(f"http://127.0.0.1:{port}", timeout=0.5)
        finally:
            for s in queued:
                s.close()
    assert silent is not None and isinstance(silent.error(), ProviderUnavailable)
    assert silent.reason == f"no model server at http://127.0.0.1:{port} — see docs/brains.md"
    bad = await probe("http://127.0.0.1:99999")
    assert bad is not None and not bad.transient
    assert type(bad.error()) is ProviderError and not is_transient(bad.error())
    assert await probe(fake.url) is None  # a server that answers
