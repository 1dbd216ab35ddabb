"""The connection check before a run: does each model server a run needs answer at all?

One TCP connection per distinct endpoint (``base_url``) of the run's model-backed brains,
before the first step. A server that does not answer marks its brains: their first call
that the cache and the recorded replies cannot answer fails at once with "no model server at
<url> — see docs/brains.md", instead of retrying a dead address for minutes. A replay (every
reply recorded) still runs with the server down: it calls nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

#: How long a connection attempt may take before the server counts as not answering.
CONNECT_TIMEOUT = 5.0
DOCS = "docs/brains.md"


@runtime_checkable
class Remote(Protocol):
    """A brain that talks to a model server."""

    #: ``scheme://host:port`` of its server (None: the provider's default cloud endpoint).
    endpoint: str | None
    #: Why its server cannot be used (set by :func:`check_endpoints`), else None.
    unreachable: str | None


def origin(base_url: str | None) -> str | None:
    """``http://localhost:11434`` for ``http://localhost:11434/v1``: what users know."""
    if not base_url:
        return None
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else base_url


def unreachable_reason(endpoint: str) -> str:
    return f"no model server at {endpoint} — see {DOCS}"


async def answers(endpoint: str, timeout: float = CONNECT_TIMEOUT) -> bool:
    """True if something accepts a TCP connection at ``endpoint``'s host and port."""
    parts = urlsplit(endpoint)
    host = parts.hostname
    if host is None:
        return False
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError, UnicodeError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def check_endpoints(brains: Iterable[object]) -> list[str]:
    """Check every distinct endpoint of ``brains`` once (concurrently); mark the brains of
    those that do not answer. Returns the endpoints that did not answer."""
    by_endpoint: dict[str, list[Remote]] = {}
    for brain in brains:
        if isinstance(brain, Remote) and brain.endpoint is not None:
            by_endpoint.setdefault(brain.endpoint, []).append(brain)
    if not by_endpoint:
        return []
    results = await asyncio.gather(*(answers(e) for e in by_endpoint))
    down = []
    for (endpoint, members), ok in zip(by_endpoint.items(), results, strict=True):
        for brain in members:
            brain.unreachable = None if ok else unreachable_reason(endpoint)
        if not ok:
            down.append(endpoint)
    return down
