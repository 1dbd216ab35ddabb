"""The fork dialog's live preview: as the user types an injection, each agent's reading by
the offline rules brain appears (direction bar, effect, relevance) with a plain verdict.
Saves ``artifacts/fork-preview.png`` — look at it."""

from __future__ import annotations

from pathlib import Path

from tests.browser.support import Page
from tests.server.conftest import LiveServer

FLOOD = (
    "Breaking news: the river rose two metres overnight and flooded the car park; "
    "the insurer says the barrier would have prevented it"
)


def test_the_fork_dialog_previews_how_agents_read_an_injection(
    ui: Page, ui_server: LiveServer, artifacts: Path
) -> None:
    page = ui.page
    root_id = ui.start_example(ui_server.owner_key, "town-hall")

    page.locator("[data-testid=step-head-4]").click()
    preview = page.locator("[data-testid=fork-preview]")
    assert preview.get_attribute("data-state") == "empty"
    hint = page.locator("[data-testid=fork-stance-hint]").inner_text()
    assert "declares" in hint and "the agents read the direction from the text" not in hint

    # typed as a user types it; the preview follows (debounced)
    page.locator("[data-testid=fork-content]").press_sequentially(FLOOD, delay=5)
    page.locator("[data-testid=fork-preview][data-state=effect]").wait_for()
    retiree = page.locator("[data-testid=fork-preview-agent-retiree]")
    assert float(retiree.get_attribute("data-direction") or 0) > 0.3
    assert retiree.get_attribute("data-effective") == "true"
    assert "for" in retiree.locator(".rp-effect").inner_text()
    assert page.locator("[data-testid^=fork-preview-agent-]").count() == 9
    assert "pro argument" in page.locator("[data-testid=fork-preview-reason]").inner_text()
    verdict = page.locator("[data-testid=fork-preview-verdict]").inner_text()
    assert verdict.startswith("Expected effect")
    page.locator("[data-testid=fork-dialog]").screenshot(path=str(artifacts / "fork-preview.png"))

    # text the rules brain cannot read: it says so, and how to get an effect anyway
    page.locator("[data-testid=fork-content]").fill("The local football team won the cup.")
    page.locator("[data-testid=fork-preview][data-state=none]").wait_for()
    verdict = page.locator("[data-testid=fork-preview-verdict]").inner_text()
    assert "reads no direction in this text for anyone" in verdict
    page.locator("[data-testid=fork-preview-verdict]").screenshot(
        path=str(artifacts / "fork-preview-none.png")
    )

    # the preview wrote nothing: still one branch
    api = ui_server.client(ui_server.owner_key)
    tree = api.get("/v1/branches/tree").json()
    mine = [n for n in tree if n["id"] == root_id]
    assert mine and mine[0]["children"] == []
    assert not ui.errors, ui.errors
