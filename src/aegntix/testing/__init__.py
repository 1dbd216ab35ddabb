"""Test seams that are real implementations (a fake model provider over HTTP)."""

from aegntix.testing.fake_llm import FakeLLM, Reply, Request

__all__ = ["FakeLLM", "Reply", "Request"]
