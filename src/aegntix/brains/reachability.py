"""The connection check before a run: does each model server a run needs answer at all?

One TCP connection per distinct endpoint (``base_url``) of the run's model-backed brains,
before the first step. A server that does not answer marks its brains: their first call
that the cache and the recorded replies cannot answer fails at once with "no model server at
<url> — see docs/brains.md", instead of retrying a dead address for minutes. A replay (every
reply recorded) still runs with the server down: it calls nothing.

Not answering (connection refused, unknown host, no reply within the connect timeout) is
:class:`~aegntix.errors.ProviderUnavailable`, transient: the same run succeeds once the server
is up, so workers retry it. An address that cannot be tried at all (no host, a bad port) is a
permanent :class:`~aegntix.errors.ProviderError`: retrying changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from aegntix.errors import ProviderError, ProviderUnavailable

#: How long a connection attempt may take before the server counts as not answering.
CONNECT_TIMEOUT = 5.0
DOCS = "docs/brains.md"


@runtime_checkable
class Remote(Protocol):
    """A brain that talks to a model server."""

    #: ``scheme://host:port`` of its server (None: the provider's default cloud endpoint).
    endpoint: str | None
    #: Why its server cannot be used (set by :func:`check_endpoints`), else None.
    unreachable: Unreachable | None


@dataclass(frozen=True, slots=True)
class Unreachable:
    """Why a brain's server cannot be used; :meth:`error` is what its calls raise."""

    reason: str
    transient: bool

    def error(self) -> ProviderError:
        """A new exception each time (a raised one collects its caller's traceback)."""
        return ProviderUnavailable(self.reason) if self.transient else ProviderError(self.reason)


def origin(base_url: str | None) -> str | None:
    """``http://localhost:11434`` for ``http://localhost:11434/v1``: what users know."""
    if not base_url:
        return None
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else base_url


def unreachable_reason(endpoint: str) -> str:
    return f"no model server at {endpoint} — see {DOCS}"


def address(endpoint: str) -> tuple[str, int] | None:
    """``(host, port)`` to connect to, None if ``endpoint`` names none."""
    parts = urlsplit(endpoint)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # not a number, or out of range
        return None
    return None if not parts.hostname else (parts.hostname, port)


async def answers(host: str, port: int, timeout: float = CONNECT_TIMEOUT) -> bool:
    """True if something accepts a TCP connection at ``host``:``port``; False if the
    connection is refused, the host is unknown or nothing answers within ``timeout``."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError, UnicodeError):  # refused, DNS (gaierror), IDNA, timeout
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def probe(endpoint: str, timeout: float = CONNECT_TIMEOUT) -> Unreachable | None:
    """None if the server at ``endpoint`` answers, else why it cannot be used."""
    target = address(endpoint)
    if target is None:
        return Unreachable(f"not a model server address: {endpoint} — see {DOCS}", False)
    if await answers(*target, timeout=timeout):
        return None
    return Unreachable(unreachable_reason(endpoint), True)


async def check_endpoints(brains: Iterable[object]) -> list[str]:
    """Check every distinct endpoint of ``brains`` once (concurrently); mark the brains of
    those that do not answer. Returns the endpoints that did not answer."""
    by_endpoint: dict[str, list[Remote]] = {}
    for brain in brains:
        if isinstance(brain, Remote) and brain.endpoint is not None:
            by_endpoint.setdefault(brain.endpoint, []).append(brain)
    if not by_endpoint:
        return []
    results = await asyncio.gather(*(probe(e) for e in by_endpoint))
    down = []
    for (endpoint, members), why in zip(by_endpoint.items(), results, strict=True):
        for brain in members:
            brain.unreachable = why
        if why is not None:
            down.append(endpoint)
    return down
