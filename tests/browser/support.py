"""Helpers for the browser tests: a Playwright page that records what it saw."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 400, "height": 800}
RUN_TIMEOUT_MS = 30_000


class Page:
    """A Playwright page plus what it saw: errors, and every URL it asked for."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on(
            "console",
            lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("websocket", lambda ws: self.requests.append(ws.url))

    def shot(self, folder: Path, name: str, *, full: bool = False) -> None:
        self.page.evaluate("document.querySelectorAll('.toast').forEach(t => t.remove())")
        self.page.screenshot(path=str(folder / name), full_page=full)

    def status(self) -> Any:
        return self.page.locator("[data-testid=branch-status]")

    def wait_done(self) -> None:
        self.page.wait_for_function(
            "document.querySelector('[data-testid=branch-status]')?.dataset.status === 'done'",
            timeout=RUN_TIMEOUT_MS,
        )

    def start_example(self, key: str, name: str) -> str:
        """Sign in with ``key``, start example ``name`` from the start page, wait until its
        run is done; the root branch's id."""
        self.page.goto(f"{self.base_url}/#key={key}")
        self.page.locator(f"[data-testid=example-start-{name}]").click()
        self.page.locator("[data-testid=branch-view]").wait_for()
        self.wait_done()
        return self.branch_id()

    def branch_id(self) -> str:
        match = re.search(r"#/b/([^/?#]+)$", self.page.url)
        assert match, self.page.url
        return match.group(1)

    def foreign_requests(self) -> list[str]:
        """URLs the page asked for anywhere but its own server (data: URLs aside)."""
        base = re.escape(self.base_url.removeprefix("http://"))
        own = re.compile(rf"^(https?|wss?)://{base}/")
        return [u for u in self.requests if not own.match(u) and not u.startswith("data:")]
