"""Metrics scraped over real HTTP after real work: the API's ``/metrics`` after a run through
the API (both backends), ``serve_metrics`` after model calls, the WebSocket gauge, the
queue-depth source, and who may read."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from aegntix.engine import start_scenario
from aegntix.errors import PortInUse
from aegntix.observability.metrics import register_queue_depth
from aegntix.observability.serving import may_scrape, serve_metrics
from aegntix.testing import FakeLLM
from aegntix.testing.fake_llm import Reply
from aegntix.timeline import open_sqlite_store
from tests.brains.llm.support import KEY, KEY_ENV, llm_scenario, run
from tests.observability.support import delta, scrape, value
from tests.server.api_support import all_events, create, run_to_end
from tests.server.conftest import serving

RUN_ROUTE = {"method": "POST", "route": "/v1/branches/{branch_id}/run", "status": "202"}
STREAM = {"route": "/v1/branches/{branch_id}/stream"}


def test_a_run_moves_the_counters_by_what_it_did(tmp_path: Path, location: str) -> None:
    with serving(tmp_path, db=location) as server, server.client(server.owner_key) as client:
        url = server.base_url + "/metrics"
        before = scrape(url)  # loopback, no token configured: allowed
        root = create(client)["root_branch"]
        status = run_to_end(client, root["id"], steps=5)
        after = scrape(url)
        events = all_events(client, root["id"])
    assert status["head_step"] == 5
    assert delta(before, after, "aegntix_steps_total") == 5
    assert delta(before, after, "aegntix_step_seconds_count") == 5
    # every event of the branch, the step-0 ones included, was committed by this process
    assert delta(before, after, "aegntix_events_appended_total") == len(events)
    assert 1 <= delta(before, after, "aegntix_store_commits_total") <= len(events)
    assert delta(before, after, "aegntix_http_request_seconds_count", RUN_ROUTE) == 1
    # route templates only: no series names a branch id
    assert not any(root["id"] in dict(labels).get("route", "") for _, labels in after)


def test_the_websocket_gauge_follows_connections(tmp_path: Path) -> None:
    with serving(tmp_path) as server, server.client(server.owner_key) as client:
        url = server.base_url + "/metrics"
        branch = create(client)["root_branch"]["id"]
        before = value(scrape(url), "aegntix_websocket_clients", STREAM)
        ws = f"{server.ws_url}/v1/branches/{branch}/stream?api_key={server.owner_key}"

        async def connected() -> float:
            async with connect(ws) as one, connect(ws) as two:
                for socket in (one, two):
                    await socket.recv()  # hello: the server accepted it
                return await asyncio.to_thread(
                    lambda: value(scrape(url), "aegntix_websocket_clients", STREAM)
                )

        during = asyncio.run(connected())
        assert during == before + 2
        deadline = time.monotonic() + 30  # the server notices the close asynchronously
        while value(scrape(url), "aegntix_websocket_clients", STREAM) != before:
            assert time.monotonic() < deadline, "the gauge never came back down"
            time.sleep(0.05)


def test_metrics_need_the_token_when_one_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AEGNTIX_METRICS_TOKEN", "scrape-me")
    with serving(tmp_path) as server:
        url = server.base_url + "/metrics"
        missing = httpx.get(url, timeout=60)
        assert missing.status_code == 401
        assert "AEGNTIX_METRICS_TOKEN" in missing.json()["detail"]
        wrong = httpx.get(url, headers={"Authorization": "Bearer nope"}, timeout=60)
        assert wrong.status_code == 401
        # an API key is a tenant's, not the operator's: it does not open the metrics
        owner = httpx.get(url, headers={"Authorization": f"Bearer {server.owner_key}"}, timeout=60)
        assert owner.status_code == 401
        assert value(scrape(url, "scrape-me"), "aegntix_build_info", {"version": "0.1.0"}) == 1
        # not an API route: not in the OpenAPI document
        assert (
            "/metrics"
            not in httpx.get(server.base_url + "/openapi.json", timeout=60).json()["paths"]
        )


def test_who_may_scrape() -> None:
    assert may_scrape(None, "127.0.0.1", None)
    assert may_scrape(None, "::1", None)
    assert not may_scrape(None, "10.1.2.3", None)  # no token: this machine only
    assert not may_scrape("Bearer t", "10.1.2.3", None)
    assert may_scrape("Bearer t", "10.1.2.3", "t")
    assert may_scrape("bearer t", "127.0.0.1", "t")
    assert not may_scrape(None, "127.0.0.1", "t")  # a token, once set, is asked of everyone
    assert not may_scrape("Basic t", "10.1.2.3", "t")


def test_serve_metrics_counts_model_calls_by_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process without the API (a worker) serves its metrics on a port."""
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv("AEGNTIX_SECRETS", "/nonexistent/aegntix-secrets.env")
    server = serve_metrics(0)
    ok, transient, cached = (
        {"provider": "openai", "outcome": o} for o in ("ok", "transient_error", "cached")
    )
    try:
        with FakeLLM() as fake, open_sqlite_store(tmp_path / "t.db") as store:
            before = scrape(server.url)
            fake.script(Reply.status_code(503))  # the first call fails once, then is retried
            scenario = llm_scenario(fake, steps=2)
            branch = start_scenario(store, scenario)
            run(store, branch.id)
            middle = scrape(server.url)
            calls = fake.count
            # the same branch again from the start: every reply is in the cache
            again = start_scenario(store, scenario)
            run(store, again.id)
            after = scrape(server.url)
            assert fake.count == calls
    finally:
        server.close()
    assert delta(before, middle, "aegntix_llm_calls_total", transient) == 1
    assert delta(before, middle, "aegntix_llm_calls_total", ok) == calls - 1
    assert delta(before, middle, "aegntix_llm_call_seconds_count", ok) == calls - 1
    waited = delta(before, middle, "aegntix_llm_limit_wait_seconds_count", {"provider": "openai"})
    assert waited == calls
    assert delta(middle, after, "aegntix_llm_calls_total", cached) == calls - 1
    assert delta(middle, after, "aegntix_llm_calls_total", ok) == 0
    assert delta(before, after, "aegntix_steps_total") == 4


def test_serve_metrics_asks_for_the_token_and_refuses_a_taken_port() -> None:
    server = serve_metrics(0, token="t0ken")
    try:
        assert httpx.get(server.url, timeout=60).status_code == 401
        assert value(scrape(server.url, "t0ken"), "aegntix_build_info", {"version": "0.1.0"}) == 1
        with pytest.raises(PortInUse, match="in use"):
            serve_metrics(server.port)
    finally:
        server.close()


def test_queue_depth_comes_from_its_registered_sources() -> None:
    depths = {"slices": 3.0}

    def broken() -> dict[str, float]:
        raise ConnectionError("the queue's database is down")

    server = serve_metrics(0)
    remove = register_queue_depth(lambda: dict(depths))
    remove_broken = register_queue_depth(broken)
    try:
        first = scrape(server.url)
        assert value(first, "aegntix_queue_depth", {"queue": "slices"}) == 3
        depths["slices"] = 7
        second = scrape(server.url)
        assert value(second, "aegntix_queue_depth", {"queue": "slices"}) == 7
        # the broken source is left out of each scrape and counted, the others still show
        assert delta(first, second, "aegntix_queue_depth_errors_total") == 1
        remove()
        remove_broken()
        third = scrape(server.url)
        assert ("aegntix_queue_depth", frozenset({("queue", "slices")})) not in third
        assert delta(second, third, "aegntix_queue_depth_errors_total") == 0
    finally:
        remove()
        remove_broken()
        server.close()


def test_any_command_serves_its_metrics_on_a_port(tmp_path: Path) -> None:
    """``AEGNTIX_METRICS_PORT`` (``aegntix --metrics-port``): a process without the API — a
    long ``aegntix run`` here, a worker in production — is scraped while it works."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def slow(request: object) -> Reply:
        return Reply(answer={"action": "say", "content": "Let me think."}, delay=0.5)

    ok = {"provider": "openai", "outcome": "ok"}
    with FakeLLM(slow) as fake:
        path = tmp_path / "slow.json"
        path.write_text(json.dumps(llm_scenario(fake, steps=3).model_dump(mode="json")))
        env = {**os.environ, KEY_ENV: KEY, "AEGNTIX_METRICS_PORT": str(port)}
        env["AEGNTIX_SECRETS"] = "/nonexistent/aegntix-secrets.env"
        command = [sys.executable, "-m", "aegntix", "run", str(path), "--quiet"]
        proc = subprocess.Popen(
            [*command, "--db", str(tmp_path / "t.db")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        url = f"http://127.0.0.1:{port}/metrics"
        try:
            deadline = time.monotonic() + 120
            steps = 0.0
            while steps < 1:  # the run is scraped mid-way, from outside the process
                assert proc.poll() is None, proc.communicate()[1][-2000:]
                assert time.monotonic() < deadline, "no step was ever scraped"
                with contextlib.suppress(httpx.TransportError):  # not listening yet
                    steps = value(scrape(url), "aegntix_steps_total")
                time.sleep(0.1)
            assert value(scrape(url), "aegntix_llm_calls_total", ok) >= 1
        finally:
            _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
