"""The start page and notices in headless Chromium: every example has a card (the persistent
agent's too), Start never makes a pointless copy and a new run is numbered, the sign-in field
shows the real key prefix, and a notice neither covers controls nor follows you elsewhere."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from aegntix.security.keys import PREFIX
from tests.browser.support import NARROW, RUN_TIMEOUT_MS, Page
from tests.server.api_support import run_to_end
from tests.server.conftest import LiveServer

NEGOTIATION = "Delivery van sale"


def sign_in(ui: Page, ui_server: LiveServer) -> httpx.Client:
    """A fresh tenant (its own scenarios), signed in on the start page; its API client."""
    key = ui_server.make_key(f"home-{uuid.uuid4().hex[:8]}", "owner")
    ui.page.goto(f"{ui_server.base_url}/#key={key}")
    ui.page.locator("[data-testid=examples] .example").first.wait_for()
    return ui_server.client(key)


def go_home(ui: Page) -> None:
    if ui.page.url.endswith("#/"):
        ui.page.reload()  # already home: show what changed over the API
    else:
        ui.page.locator("[data-testid=home-link]").click()
    ui.page.locator("[data-testid=examples] .example").first.wait_for()


def scenario_names(api: httpx.Client) -> list[str]:
    return sorted(s["name"] for s in api.get("/v1/scenarios").json())


def boxes_overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_example_cards_start_open_and_number_runs(
    ui: Page, ui_server: LiveServer, artifacts: Path
) -> None:
    page = ui.page
    api = sign_in(ui, ui_server)
    offered = api.get("/v1/examples").json()
    offline = page.locator("[data-testid=examples] .example")
    model = page.locator("[data-testid=model-examples] .example")
    assert offline.count() == sum(not e["needs_model"] for e in offered) >= 4
    assert model.count() == sum(e["needs_model"] for e in offered) == 1  # the LLM negotiation
    assert offline.count() + model.count() == len(offered)
    dana = page.locator("[data-testid=example-persistent-van-sale]")
    assert "Delivery van sale (Dana remembers)" in dana.inner_text()
    assert "persistent/1-van-sale.yaml" in dana.inner_text()
    ui.shot(artifacts, "ui-home-examples-1280.png", full=True)

    # a sandbox recorded but never run (as `serve --examples` leaves them): Start runs it
    preloaded = api.post("/v1/examples/negotiation").json()["root_branch"]["id"]
    go_home(ui)
    assert page.locator("[data-testid=example-open-negotiation]").count() == 0
    page.locator("[data-testid=example-start-negotiation]").click()
    page.locator("[data-testid=branch-view]").wait_for()
    assert ui.branch_id() == preloaded
    ui.wait_done()
    assert scenario_names(api) == [NEGOTIATION]

    # once it has run, the card opens it; "New run" is the second choice
    go_home(ui)
    opener = page.locator("[data-testid=example-open-negotiation]")
    again = page.locator("[data-testid=example-start-negotiation]")
    assert opener.inner_text() == "Open" and "New run" in again.inner_text()
    card = page.locator("[data-testid=example-negotiation]")
    assert card.locator("[data-testid=example-runs-negotiation]").get_attribute("data-count") == "1"
    card.screenshot(path=str(artifacts / "ui-home-example-card-1280.png"))
    opener.click()
    page.locator("[data-testid=branch-view]").wait_for()
    assert ui.branch_id() == preloaded
    assert page.locator("[data-testid=branch-status]").get_attribute("data-status") == "done"
    assert scenario_names(api) == [NEGOTIATION]

    # a new run is numbered, runs at once, and is what Open opens from then on
    go_home(ui)
    page.locator("[data-testid=example-start-negotiation]").click()
    page.wait_for_function(
        f"/#\\/b\\/(?!{preloaded})[^/]+$/.test(location.hash)", timeout=RUN_TIMEOUT_MS
    )
    second = ui.branch_id()
    page.locator(f"[data-testid=branch-view][data-branch-id='{second}']").wait_for()
    assert f"{NEGOTIATION} (2)" in page.locator("#crumbs").inner_text()
    assert page.locator("[data-testid=toast-info]", has_text=f"{NEGOTIATION} (2)").count() == 1
    ui.wait_done()
    assert scenario_names(api) == [NEGOTIATION, f"{NEGOTIATION} (2)"]
    go_home(ui)
    runs = page.locator("[data-testid=example-runs-negotiation]")
    assert runs.get_attribute("data-count") == "2" and "2 runs" in runs.inner_text()
    page.locator("[data-testid=example-open-negotiation]").click()
    page.locator("[data-testid=branch-view]").wait_for()
    assert ui.branch_id() == second

    # the persistent agent's example starts from its card, with Dana as the buyer
    go_home(ui)
    page.locator("[data-testid=example-start-persistent-van-sale]").click()
    page.locator("[data-testid=branch-view]").wait_for()
    badge = page.locator("[data-testid=agent-buyer] [data-testid=persistent-badge]")
    assert badge.get_attribute("href") == "#/agents/dana"
    ui.wait_done()

    page.set_viewport_size(NARROW)
    go_home(ui)
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    ui.shot(artifacts, "ui-home-examples-400.png", full=True)
    assert ui.errors == []


def test_sign_in_placeholder_is_the_key_prefix(ui: Page, ui_server: LiveServer) -> None:
    ui.page.goto(f"{ui_server.base_url}/")
    field = ui.page.locator("[data-testid=key-input]")
    field.wait_for()
    assert field.get_attribute("placeholder") == f"{PREFIX}_…"


def test_a_notice_covers_no_control_and_stays_behind(
    ui: Page, ui_server: LiveServer, artifacts: Path
) -> None:
    page = ui.page
    api = sign_in(ui, ui_server)
    root = api.post("/v1/examples/town-hall").json()["root_branch"]["id"]
    run_to_end(api, root)
    page.goto(f"{ui_server.base_url}/#/b/{root}")
    ui.wait_done()

    # fork from the transcript: the fork opens with its notice; at 400 px too
    for size, step in ((None, 4), (NARROW, 5)):
        if size:
            page.set_viewport_size(size)
            page.goto(f"{ui_server.base_url}/#/b/{root}")
            ui.wait_done()
        page.locator(f"[data-testid=step-head-{step}]").click()
        page.locator("[data-testid=fork-content]").fill("The council found the money elsewhere.")
        page.locator("[data-testid=fork-submit]").click()
        page.wait_for_function(f"/#\\/b\\/(?!{root})[^/]+$/.test(location.hash)")
        notice = page.locator("[data-testid=toast-info]", has_text=f"after step {step}")
        notice.hover()  # being read: it stays
        ui.wait_done()
        transcript = page.locator("[data-testid=transcript]")
        transcript.scroll_into_view_if_needed()
        transcript.evaluate("t => { t.scrollTop = 0; t.dispatchEvent(new Event('scroll')); }")
        notice.hover()
        page.locator("[data-testid=jump-latest]").wait_for()
        width = page.viewport_size["width"] if page.viewport_size else 0
        page.screenshot(path=str(artifacts / f"ui-toast-fork-{width}.png"))
        shown = notice.bounding_box()
        assert shown is not None
        for testid in ("jump-latest", "run", "pause", "step", "compare-with", "compare-open"):
            box: Any = page.locator(f"[data-testid={testid}]").bounding_box()
            covered = box is not None and boxes_overlap(shown, box)
            assert not covered, f"the notice covers {testid} at {width} px"
        assert notice.count() == 1

    # navigating away takes it away (not 4 s later): it is gone when compare opens
    page.evaluate(
        """() => {
          window.__gone = [];
          new MutationObserver((changes) => {
            for (const c of changes) for (const n of c.removedNodes)
              if (n.classList?.contains('toast')) window.__gone.push(location.hash);
          }).observe(document.getElementById('toasts'), {childList: true});
        }"""
    )
    page.locator("[data-testid=compare-open]").click()
    page.locator("[data-testid=compare-view]").wait_for()
    assert page.locator("#toasts .toast").count() == 0
    gone = page.evaluate("window.__gone")
    assert gone and gone[0].startswith("#/compare/"), gone
    assert ui.errors == []
