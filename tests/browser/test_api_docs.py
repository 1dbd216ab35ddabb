"""The API docs in headless Chromium with the network cut off: every request that is not to
the server on loopback is blocked (and recorded), as on a machine without internet. ``/docs``
(Swagger UI) and ``/redoc`` must still render the operations from the app's own assets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import WIDE, Page
from tests.server.conftest import LiveServer

REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
_LOOPBACK = re.compile(r"^(https?|wss?)://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?/")


@pytest.fixture
def offline(browser: Any, ui_server: LiveServer) -> Iterator[tuple[Page, list[str]]]:
    """A page whose context lets only loopback requests through; the list gets the others."""
    context = browser.new_context(viewport=WIDE, device_scale_factor=1)
    blocked: list[str] = []

    def gate(route: Any) -> None:
        url = route.request.url
        if _LOOPBACK.match(url) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", gate)
    page = Page(context.new_page(), ui_server.base_url)
    page.page.set_default_timeout(15_000)
    yield page, blocked
    context.close()


def test_swagger_ui_lists_the_operations_offline(
    offline: tuple[Page, list[str]], artifacts: Path
) -> None:
    ui, blocked = offline
    page = ui.page
    response = page.goto(f"{ui.base_url}/docs")
    assert response is not None and response.status == 200
    page.locator(".opblock").first.wait_for()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/v1/scenarios" in [p.strip().replace("\u200b", "") for p in paths]
    methods = {m.strip() for m in page.locator(".opblock-summary-method").all_inner_texts()}
    assert {"GET", "POST", "DELETE"} <= methods
    # an operation opens and shows its parameters and responses
    page.locator("#operations-branches-get_branch_v1_branches__branch_id__get button").first.click()
    page.locator(".parameters-container").first.wait_for()
    ui.shot(artifacts, "api-docs-swagger-1280.png")
    assert blocked == [] and ui.foreign_requests() == []
    assert ui.errors == []


def test_redoc_lists_the_operations_offline(
    offline: tuple[Page, list[str]], artifacts: Path
) -> None:
    ui, blocked = offline
    page = ui.page
    response = page.goto(f"{ui.base_url}/redoc")
    assert response is not None and response.status == 200
    page.locator("h2", has_text="Create Scenario").first.wait_for()
    assert page.locator(".operation-type").count() > 10  # the method badges of the menu
    page.get_by_text("/v1/scenarios").first.wait_for(state="attached")
    ui.shot(artifacts, "api-docs-redoc-1280.png")
    # ReDoc's one outside reference is its attribution logo, which hides itself when it
    # cannot load; everything the page needs came from the server
    assert set(blocked) <= {REDOC_LOGO}
    assert [e for e in ui.errors if "Failed to load resource" not in e] == []
