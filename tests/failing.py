"""Scenarios that fail at run time, for the failure-reason tests (CLI, API, browser)."""

from __future__ import annotations

import socket
from typing import Any

import yaml

from tests.support import EXAMPLES

#: The step at which :func:`dividing_by_zero` fails (its countdown reaches 0 there).
FAILING_STEP = 3


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def llm_example(base_url: str | None = None) -> dict[str, Any]:
    """``examples/negotiation-llm.yaml``, optionally pointed at another model server."""
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / "negotiation-llm.yaml").read_text())
    if base_url is not None:
        data["brain"]["base_url"] = base_url
        data["brain"]["timeout"] = 5
    return data


def dividing_by_zero() -> dict[str, Any]:
    """The town hall with an outcome ``100 / countdown`` whose countdown hits 0 at step 3."""
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / "town-hall.yaml").read_text())
    data["world"]["countdown"] = FAILING_STEP
    data["dynamics"] = {"countdown": "countdown - 1"}
    data["outcomes"]["per_countdown"] = "100 / countdown"
    return data


def as_yaml(data: dict[str, Any]) -> bytes:
    return yaml.safe_dump(data, sort_keys=False).encode()
