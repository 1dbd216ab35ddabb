"""A failed run says why in the web UI: the model-backed example is listed apart ("needs a
model server"), and started with no server it fails at once with the reason in the branch
header. Saves ``artifacts/failed-run.png``."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.browser.support import Page
from tests.server.conftest import LiveServer

OLLAMA = ("localhost", 11434)
REASON = "no model server at http://localhost:11434 — see docs/brains.md"


def _listening(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def test_the_llm_example_without_a_server_says_why(
    ui: Page, ui_server: LiveServer, artifacts: Path
) -> None:
    if _listening(*OLLAMA):
        pytest.skip("a model server listens on localhost:11434: this test needs none there")
    page = ui.page
    page.goto(f"{ui_server.base_url}/#key={ui_server.owner_key}")

    # -- listed apart from the offline examples, with the server it needs
    model_group = page.locator("[data-testid=model-examples-section]")
    model_group.wait_for()
    assert "Needs a model server" in model_group.inner_text()
    llm = model_group.locator("[data-testid=example-negotiation-llm]")
    assert "http://localhost:11434" in llm.locator("[data-testid=example-needs]").inner_text()
    offline = page.locator("[data-testid=examples]")
    assert offline.locator("[data-testid=example-negotiation-llm]").count() == 0
    assert offline.locator("[data-testid=example-town-hall]").count() == 1
    model_group.scroll_into_view_if_needed()
    ui.shot(artifacts, "ui-home-model-examples.png")

    # -- start it: the run fails at once, and the header says why
    page.locator("[data-testid=example-start-negotiation-llm]").click()
    banner = page.locator("[data-testid=branch-failure]")
    banner.wait_for()
    assert ui.status().get_attribute("data-status") == "failed"
    title = banner.locator("[data-testid=branch-failure-title]").inner_text()
    detail = banner.locator("[data-testid=branch-failure-detail]").inner_text()
    assert (title + detail) == f"Run failed at step 1: {REASON}"
    assert "Retry" in page.locator("[data-testid=run]").inner_text()
    assert page.locator("[data-testid=run]").is_enabled()
    ui.shot(artifacts, "failed-run.png")

    # -- opened again later (no live stream involved), it still says why
    page.reload()
    banner.wait_for()
    assert REASON in banner.inner_text()
    assert ui.errors == [], ui.errors
