"""One fake provider for the session (reset before each test) and the test API key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aegntix.brains.cache import cache_for
from aegntix.testing import FakeLLM
from aegntix.timeline import SqlStore
from tests.brains.llm.support import KEY, KEY_ENV


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


@pytest.fixture
def fake(fake_server: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> FakeLLM:
    fake_server.reset()
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv("AEGNTIX_SECRETS", "/nonexistent/aegntix-secrets.env")  # no stray file
    cache_for(None).forget_memory()  # the memory-only cache is process-wide
    return fake_server


@pytest.fixture
def store(store_on_both: SqlStore) -> SqlStore:
    """On both backends: the reply cache and usage ledger run on SQLite and PostgreSQL."""
    return store_on_both
