"""API keys come from the environment or a secrets file, and never reach the database, a
log line or an error message."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import structlog

from aegntix.brains.credentials import read_secrets
from aegntix.engine import start_scenario
from aegntix.errors import ProviderError, ScenarioInvalid
from aegntix.model.loading import parse_scenario
from aegntix.testing import FakeLLM, Reply, Request
from aegntix.timeline import SqlStore
from tests.brains.llm.support import KEY, KEY_ENV, decide_once, llm_scenario, run


def _echo_key(request: Request) -> Reply:
    """A hostile or careless server: it quotes the Authorization header back."""
    body = f'{{"error": {{"message": "bad request from {request.headers["authorization"]}"}}}}'
    return Reply(status=400, body=body.encode())


def test_the_key_never_reaches_events_logs_or_errors(
    tmp_path: Path,
    store: SqlStore,
    fake: FakeLLM,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.DEBUG)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory())  # to stdout
    try:
        fake.script(Reply.status_code(503), Reply(drop=True))  # retries are logged
        branch = start_scenario(store, llm_scenario(fake, steps=3, fallback="fail"))
        run(store, branch.id, 2)
        assert any(KEY in r.headers["authorization"] for r in fake.requests)

        fake.reset(_echo_key)
        run(store, store.fork(branch.id, 0).id, 2)  # cache hits only
        with pytest.raises(ProviderError) as info:
            run(store, branch.id)  # step 3 asks, and the server quotes the key back
        message = str(info.value)
        assert "HTTP 400" in message and "[redacted]" in message and KEY not in message
    finally:
        structlog.reset_defaults()
    out = capsys.readouterr()
    assert "model call failed; retrying" in out.out
    assert KEY not in out.out + out.err + caplog.text
    events = list(store.events(branch.id))
    assert events and all(KEY not in repr(e.payload) for e in events)
    store.close()
    for name in ("timeline.db", "timeline.db-wal"):
        path = tmp_path / name
        if path.exists():
            assert KEY.encode() not in path.read_bytes()


def test_a_fallback_error_recorded_in_an_event_is_redacted(store: SqlStore, fake: FakeLLM):
    fake.reset(_echo_key)
    branch = start_scenario(store, llm_scenario(fake, steps=1, fallback="rules"))
    run(store, branch.id)
    errors = [e.payload["error"] for e in store.events(branch.id) if e.kind == "decision"]
    assert len(errors) == 3 and all("[redacted]" in e and KEY not in e for e in errors)


def test_a_missing_key_names_the_variable(fake: FakeLLM, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(KEY_ENV)
    monkeypatch.setenv("AEGNTIX_SECRETS", "/nonexistent/secrets.env")
    with pytest.raises(ProviderError, match=f"no API key in \\${KEY_ENV}"):
        decide_once(llm_scenario(fake))
    assert fake.count == 0


def test_the_key_can_come_from_a_secrets_file(
    tmp_path: Path, fake: FakeLLM, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv(KEY_ENV)
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"# provider keys\nexport {KEY_ENV}='from-the-file-123'\nOTHER=x\n")
    monkeypatch.setenv("AEGNTIX_SECRETS", str(secrets))
    assert read_secrets(secrets)[KEY_ENV] == "from-the-file-123"
    decide_once(llm_scenario(fake))
    assert fake.requests[0].headers["authorization"] == "Bearer from-the-file-123"


def test_local_servers_need_no_key(fake: FakeLLM, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("AEGNTIX_SECRETS", "/nonexistent/secrets.env")
    decide_once(llm_scenario(fake, api_key_env=None))
    assert fake.requests[0].headers["authorization"] == "Bearer no-key"


def test_a_scenario_cannot_hold_a_key():
    base = "name: s\ntermination: {max_steps: 1}\nagents: [{id: a, name: A, role: r}]\n"
    with pytest.raises(ScenarioInvalid, match="unknown field") as info:
        parse_scenario(base + "brain: {kind: openai, model: m, api_key: sk-live-abcdef123456}\n")
    assert "sk-live" not in str(info.value)
    with pytest.raises(ScenarioInvalid, match="must name an environment variable") as info:
        parse_scenario(base + "brain: {kind: openai, model: m, api_key_env: sk-live-abc123}\n")
    assert "sk-live" not in str(info.value)
