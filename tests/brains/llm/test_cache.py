"""The response cache: digests, the LRU, the tenant-scoped table."""

from __future__ import annotations

from aegntix.brains.cache import CachedReply, Payer, ResponseCache, cache_for, request_digest
from aegntix.timeline import SqlStore, open_store

REQUEST = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
REPLY = CachedReply('{"action": "pass"}', 10, 3)


def test_the_digest_covers_provider_model_messages_and_parameters():
    key = request_digest("openai", REQUEST)
    assert key == request_digest("openai", dict(reversed(list(REQUEST.items()))))
    assert len(key) == 64
    variants = [
        request_digest("anthropic", REQUEST),
        request_digest("openai", {**REQUEST, "model": "n"}),
        request_digest("openai", {**REQUEST, "temperature": 0.5}),
        request_digest("openai", {**REQUEST, "messages": [{"role": "user", "content": "hi!"}]}),
        request_digest("openai", {**REQUEST, "max_tokens": 10}),
    ]
    assert len({key, *variants}) == 6


def test_the_digest_names_the_endpoint_when_one_is_set():
    """Two servers may serve different weights under one model name: separate entries."""
    local = request_digest("openai", REQUEST, "http://127.0.0.1:11434/v1")
    assert local == request_digest("openai", REQUEST, "http://127.0.0.1:11434/v1/")
    assert local != request_digest("openai", REQUEST, "http://10.0.0.2:8000/v1")
    assert local != request_digest("openai", REQUEST)


def test_the_lru_keeps_the_most_recent():
    cache = ResponseCache(None, capacity=2)
    for key in ("a", "b"):
        cache.remember("t", key, REPLY)
    assert cache.get("t", "a") == REPLY  # a is now the most recent
    cache.remember("t", "c", REPLY)
    assert cache.get("t", "b") is None and cache.get("t", "a") == REPLY


def test_rows_are_tenant_scoped(store: SqlStore):
    cache = cache_for(store)
    cache.put(Payer("acme", "s1", "b1", "seller"), "k", "openai", "m", REPLY, 0.01)
    assert cache.get("acme", "k") == REPLY
    assert cache.get("globex", "k") is None
    cache.forget_memory()
    assert cache.get("globex", "k") is None
    assert cache.get("acme", "k") == REPLY and cache.db_hits == 1


def test_rows_survive_a_restart_and_are_written_once(location: str):
    with open_store(location) as store:
        cache = cache_for(store)
        cache.put(Payer(), "k", "openai", "m", REPLY, 0.0)
        cache.put(Payer(), "k", "openai", "m", CachedReply("other", 1, 1), 0.0)  # ignored
    with open_store(location) as store:
        assert cache_for(store) is not cache
        assert cache_for(store).get("default", "k") == REPLY


def test_a_tenant_scoped_store_shares_its_backends_cache(store: SqlStore):
    from aegntix.timeline.tenancy import TenantStore

    assert cache_for(TenantStore(store, "acme")) is cache_for(store)
