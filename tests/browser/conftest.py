"""Fixtures for the browser test: the real app on uvicorn (loopback), Debian's Chromium driven
by Playwright for Python, and the ``artifacts/`` folder for screenshots.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (``apt-get install
chromium``; ``.ci/run`` installs it). If it is missing the tests fail, loudly — never skip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from aegntix.model.events import Event, NewEvent
from aegntix.timeline import SqlStore
from tests.browser.support import WIDE, Page
from tests.postgres import SessionDatabase
from tests.server.conftest import LiveServer, serving
from tests.support import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts"
#: Added to every append of a run: the rules brain finishes the 12-step debate in ~0.1 s,
#: too fast to watch; with this a run lasts ~2 s and its events visibly arrive step by step.
STEP_LATENCY = 0.15


class SlowAppendStore:
    """A store whose asynchronous appends (the run's write path) take ``delay`` seconds
    longer — a stand-in for a slower brain or disk. Everything else is the wrapped store."""

    def __init__(self, inner: SqlStore, delay: float) -> None:
        self._inner = inner
        self._delay = delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def append_async(
        self, branch_id: str, events: Sequence[NewEvent], *, expect_seq: int | None = None
    ) -> list[Event]:
        await asyncio.sleep(self._delay)
        return await self._inner.append_async(branch_id, events, expect_seq=expect_seq)


@pytest.fixture(scope="session")
def ui_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """Like ``live_server`` (tests/server/conftest.py), with runs slowed by STEP_LATENCY; on a
    SQLite file, or on PostgreSQL where a test asks (``parametrize("ui_server", ...,
    indirect=True)``): the UI is the same on both, so one end-to-end test proves the path."""
    backend = getattr(request, "param", "sqlite")
    db = None
    if backend == "postgresql":
        pg: SessionDatabase = request.getfixturevalue("pg_database")
        db = pg.new_url()
    with serving(
        tmp_path_factory.mktemp(f"ui-{backend}"),
        lambda store: SlowAppendStore(store, STEP_LATENCY),
        db=db,
    ) as server:
        assert server.store.engine.dialect.name == backend
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, for one module: Playwright's sync API runs an event loop on this thread
    while it is open, which would break later tests that call ``asyncio.run``."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser test needs Debian's Chromium "
            "(`apt-get install -y chromium`; .ci/run installs it). Not skipping.",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - dev extras not installed
        pytest.fail("playwright is not installed: pip install -e '.[dev]'", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def ui(browser: Any, ui_server: LiveServer) -> Iterator[Page]:
    """A fresh 1280×800 page (its own context: its own localStorage)."""
    context = browser.new_context(viewport=WIDE, device_scale_factor=1)
    page = Page(context.new_page(), ui_server.base_url)
    page.page.set_default_timeout(15_000)
    yield page
    context.close()
