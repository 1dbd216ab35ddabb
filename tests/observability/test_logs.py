"""Structured logs read from real processes' stderr: JSON lines when stderr is not a
terminal, with the run's branch and tenant ids and the request's id and tenant bound."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from aegntix.testing import FakeLLM
from aegntix.testing.fake_llm import Reply
from tests.brains.llm.support import KEY, KEY_ENV, llm_scenario

TIMEOUT = 120  # bounds waits on a loaded machine; nothing asserts a duration


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("AEGNTIX_LOG_FORMAT", None)
    env.pop("AEGNTIX_LOG_LEVEL", None)
    env.update({KEY_ENV: KEY, "AEGNTIX_SECRETS": "/nonexistent/aegntix-secrets.env", **extra})
    return env


def _json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every structured line (a CLI's own error lines are plain text; none are expected)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def _retrying_run(tmp_path: Path, fake: FakeLLM, **env: str) -> tuple[str, str]:
    """``aegntix run`` of a model-backed scenario whose first call fails once (a warning is
    logged, then the call is retried); returns (branch id, stderr)."""
    path = tmp_path / "llm.json"
    path.write_text(json.dumps(llm_scenario(fake, steps=1).model_dump(mode="json")))
    fake.script(Reply.status_code(503))
    db = str(tmp_path / "t.db")
    done = subprocess.run(
        [sys.executable, "-m", "aegntix", "run", str(path), "--db", db, "--json", "--quiet"],
        check=False,
        capture_output=True,
        text=True,
        env=_env(**env),
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    return summary["branch_id"], done.stderr


def test_a_run_logs_json_lines_with_its_branch_and_tenant(tmp_path: Path) -> None:
    with FakeLLM() as fake:
        branch_id, stderr = _retrying_run(tmp_path, fake)
    lines = _json_lines(stderr)
    retries = [line for line in lines if line["event"] == "model call failed; retrying"]
    assert len(retries) == 1
    retry = retries[0]
    assert retry["branch_id"] == branch_id
    assert retry["tenant_id"] == "default"
    assert retry["level"] == "warning" and retry["attempt"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", retry["timestamp"])


def test_the_console_format_is_chosen_by_environment(tmp_path: Path) -> None:
    with FakeLLM() as fake:
        branch_id, stderr = _retrying_run(tmp_path, fake, AEGNTIX_LOG_FORMAT="console")
    line = next(x for x in stderr.splitlines() if "model call failed; retrying" in x)
    assert not line.lstrip().startswith("{")
    assert f"branch_id={branch_id}" in line and "tenant_id=default" in line


def test_a_request_logs_its_request_id_and_tenant(tmp_path: Path) -> None:
    key_file = tmp_path / "owner.key"
    command = [sys.executable, "-m", "aegntix", "serve", "--db", str(tmp_path / "s.db")]
    command += ["--port", "0", "--key-file", str(key_file), "--log-level", "info"]
    server = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        base = _wait_for_url(server)
        key = key_file.read_text().strip()
        auth = {"Authorization": f"Bearer {key}"}
        mine = httpx.get(f"{base}/v1/me", headers={**auth, "X-Request-ID": "req-42"}, timeout=30)
        assert mine.status_code == 200 and mine.headers["x-request-id"] == "req-42"
        minted = httpx.get(f"{base}/v1/me", headers=auth, timeout=30).headers["x-request-id"]
        # a client's id that could forge log content is replaced, not echoed
        odd = httpx.get(f"{base}/v1/me", headers={**auth, "X-Request-ID": 'a" b'}, timeout=30)
        replaced = odd.headers["x-request-id"]
        assert replaced != 'a" b'
        anonymous = httpx.get(f"{base}/v1/me", headers={"X-Request-ID": "req-43"}, timeout=30)
        assert anonymous.status_code == 401
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=TIMEOUT)
    requests = {
        line["request_id"]: line for line in _json_lines(stderr) if line["event"] == "request"
    }
    for rid in ("req-42", minted, replaced):
        line = requests[rid]
        assert line["tenant_id"] == "default"
        assert (line["route"], line["status"], line["method"]) == ("/v1/me", 200, "GET")
    assert "tenant_id" not in requests["req-43"]  # no key: no tenant
    assert requests["req-43"]["status"] == 401


def _wait_for_url(server: subprocess.Popen[str]) -> str:
    """The base URL ``aegntix serve`` prints once it listens (port 0: the one it got)."""
    assert server.stdout is not None
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line:
            raise AssertionError(f"serve exited: {server.communicate()[1][-2000:]}")
        found = re.search(r"AegntiX UI: (http://[\d.]+:\d+)/", line)
        if found:
            base = found.group(1)
            while time.monotonic() < deadline:  # printed just before uvicorn starts
                try:
                    httpx.get(f"{base}/v1/health", timeout=5)
                    return base
                except httpx.TransportError:
                    time.sleep(0.1)
    raise AssertionError("serve never printed its URL")
