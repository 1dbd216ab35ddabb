"""The network panel of the branch view: the 30-agent small-world rumour drawn as an SVG
graph, each agent's stance as its colour, recoloured as the steps stream in. Saves
``artifacts/network-small-world.png`` (the panel) and ``network-branch.png`` — look at them."""

from __future__ import annotations

from pathlib import Path

from tests.browser.support import Page
from tests.server.conftest import LiveServer


def test_the_network_panel_draws_the_small_world_and_follows_the_run(
    ui: Page, ui_server: LiveServer, artifacts: Path
) -> None:
    page = ui.page
    # every step the panel shows, as it shows it
    page.add_init_script(
        """window.__netSteps = [];
        new MutationObserver((changes) => changes.forEach((c) => {
          if (c.attributeName === 'data-step') window.__netSteps.push(c.target.dataset.step);
        })).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-step']});"""
    )
    with ui_server.client(ui_server.owner_key) as api:
        made = api.post("/v1/examples/rumour_small_world")
        assert made.status_code == 201, made.text
    branch_id = made.json()["root_branch"]["id"]
    page.goto(f"{ui.base_url}/#key={ui_server.owner_key}")
    page.locator("[data-testid=examples]").wait_for()
    page.goto(f"{ui.base_url}/#/b/{branch_id}")
    panel = page.locator("[data-testid=network-panel][data-ready=true]")
    panel.wait_for()
    nodes = panel.locator("[data-testid=net-node]")
    assert nodes.count() == 30
    assert panel.locator(".net-edge").count() == 30 * 4 // 2  # Watts–Strogatz: n·k/2
    assert "small world" in page.locator("[data-testid=network-kind]").inner_text()
    first = {
        nodes.nth(i).get_attribute("data-agent"): nodes.nth(i).get_attribute("fill")
        for i in range(30)
    }

    # it follows the run step by step as the steps stream in
    page.locator("[data-testid=run]").click()
    ui.wait_done()
    page.wait_for_function(
        "document.querySelector('[data-testid=network-panel]')?.dataset.step === '15'"
    )
    shown = page.evaluate("window.__netSteps")
    assert len(set(shown)) >= 5, shown
    last = {
        nodes.nth(i).get_attribute("data-agent"): nodes.nth(i).get_attribute("fill")
        for i in range(30)
    }
    assert sum(first[k] != last[k] for k in first) >= 10  # stances moved, colours with them
    assert nodes.nth(0).get_attribute("data-stance") is not None
    assert panel.locator(".net-edge-lit").count() > 0  # who spoke in the last step, and to whom

    page.locator("[data-testid=network-panel]").screenshot(
        path=str(artifacts / "network-small-world.png")
    )
    ui.shot(artifacts, "network-branch.png")

    # who is linked to whom: clicking Ada marks her links and names her neighbours
    with ui_server.client(ui_server.owner_key) as api:
        topology = api.get(f"/v1/scenarios/{made.json()['scenario']['id']}/topology").json()
    linked = {b if a == "p00" else a for a, b in topology["edges"] if "p00" in (a, b)}
    panel.locator("[data-agent=p00]").click()
    assert panel.get_attribute("data-focus") == "p00"
    near = panel.locator(".net-node-near")
    assert {near.nth(i).get_attribute("data-agent") for i in range(near.count())} == linked
    assert panel.locator(".net-edge-focus").count() == len(linked)
    assert (
        page.locator("[data-testid=network-focus]").inner_text().startswith("Ada Moss is linked to")
    )
    page.locator("[data-testid=network-panel]").screenshot(
        path=str(artifacts / "network-focus.png")
    )
    assert not ui.errors, ui.errors
