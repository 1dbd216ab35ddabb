"""The fork dialog offers every registered injection strategy (read from GET /v1/meta, not
hard-coded), with its parameters, and previews who will hear a gradual injection when; the
fork it creates spreads as previewed. Saves ``artifacts/fork-gradual.png`` — look at it."""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from aegntix.inject.registry import STRATEGIES
from tests.browser.support import Page
from tests.server.conftest import LiveServer

NEWS = "An independent study finds the barrier will save homes and jobs."


def test_the_fork_dialog_previews_a_gradual_spread(
    ui: Page, ui_server: LiveServer, artifacts: Path
) -> None:
    page = ui.page
    root_id = ui.start_example(ui_server.owner_key, "town-hall")

    page.locator("[data-testid=step-head-3]").click()
    for name in STRATEGIES:  # every registered strategy is offered
        page.locator(f"[data-testid=fork-strategy-{name}]").wait_for(state="attached")
    assert any(u.endswith("/v1/meta") for u in ui.requests)  # read from the server
    schedule = page.locator("[data-testid=fork-schedule]")
    assert not schedule.is_visible()  # broadcast (the default) takes no schedule

    page.locator("[data-testid=fork-strategy-gradual]").check()
    assert schedule.is_visible()
    page.locator("[data-testid=fork-spread-steps]").fill("3")
    page.locator("[data-testid=fork-content]").fill(NEWS)
    when = page.locator("[data-testid=fork-preview-when][data-strategy=gradual]")
    when.wait_for()
    rows = when.locator("li")
    assert rows.count() == 3
    assert [rows.nth(i).get_attribute("data-testid") for i in range(3)] == [
        "fork-preview-when-4",
        "fork-preview-when-5",
        "fork-preview-when-6",
    ]
    assert sum(int(rows.nth(i).get_attribute("data-count") or 0) for i in range(3)) == 9
    assert "9 of 9" in rows.nth(2).inner_text()
    first = page.locator("[data-testid^=fork-preview-agent-][data-step='4']")
    assert first.count() == int(rows.nth(0).get_attribute("data-count") or 0)
    page.locator("[data-testid=fork-dialog]").screenshot(path=str(artifacts / "fork-gradual.png"))

    # a bad schedule is refused by the server, next to its field
    page.locator("[data-testid=fork-spread-steps]").fill("40")
    page.locator("[data-testid=fork-run]").uncheck()
    page.locator("[data-testid=fork-submit]").click()
    page.locator("[data-testid=field-error-steps]").wait_for()

    # the fork spreads as previewed: a wave at steps 5 and 6 after the landing at 4
    page.locator("[data-testid=fork-spread-steps]").fill("3")
    expected = {
        int((rows.nth(i).get_attribute("data-testid") or "").rsplit("-", 1)[1]): int(
            rows.nth(i).get_attribute("data-count") or 0
        )
        for i in range(3)
    }
    page.locator("[data-testid=fork-submit]").click()
    page.locator("[data-testid=fork-dialog]").wait_for(state="hidden")
    api = ui_server.client(ui_server.owner_key)
    tree = api.get("/v1/branches/tree").json()
    (mine,) = [n for n in tree if n["id"] == root_id]
    (child,) = mine["children"]
    r = api.post(f"/v1/branches/{child['id']}/run", json={"steps": 3})
    assert r.status_code == 202, r.text
    page.goto(f"{ui.base_url}/#/b/{child['id']}")
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=event][data-kind=injection]').length >= 3",
        timeout=30_000,
    )
    events = api.get(f"/v1/branches/{child['id']}/events", params={"kind": "injection"}).json()
    steps = {e["step"]: e for e in events["events"]}
    assert sorted(steps) == sorted(expected)
    assert all(len(steps[s]["payload"]["targets"]) == expected[s] for s in list(steps)[1:])
    page.locator("[data-testid=event][data-kind=injection]").first.scroll_into_view_if_needed()
    ui.shot(artifacts, "fork-gradual-transcript.png")
    # the one refusal was the bad schedule's (and the preview's of it)
    assert [e for e in ui.errors if "status of 422" not in e] == [], ui.errors


def test_the_fork_dialog_previews_an_organic_spread_along_the_network(
    ui: Page, ui_server: LiveServer, artifacts: Path
) -> None:
    """On the 30-agent small world, an organic injection from one villager reaches its
    neighbours first, then theirs: the preview lists who hears it when, as the graph says."""
    with ui_server.client(ui_server.owner_key) as api:
        made = api.post("/v1/examples/rumour_small_world")
        assert made.status_code == 201, made.text
        body = made.json()
        branch_id = body["root_branch"]["id"]
        assert api.post(f"/v1/branches/{branch_id}/run", json={"steps": 2}).status_code == 202
        graph = api.get(f"/v1/scenarios/{body['scenario']['id']}/topology").json()
    page = ui.page
    page.goto(f"{ui.base_url}/#key={ui_server.owner_key}")
    page.locator("[data-testid=examples]").wait_for()
    page.goto(f"{ui.base_url}/#/b/{branch_id}")
    page.locator("[data-testid=step-head-2]").wait_for(timeout=30_000)  # its 2 steps ran
    page.locator("[data-testid=step-head-2]").click()
    page.locator("[data-testid=fork-strategy-organic]").check()
    source = page.locator("[data-testid=fork-source-field]")
    assert source.is_visible() and not page.locator("[data-testid=fork-schedule]").is_visible()
    page.locator("[data-testid=fork-source]").select_option("agent:p00")
    page.locator("[data-testid=fork-content]").fill(
        "The plant just signed a new ten-year contract with the harbour."
    )
    when = page.locator("[data-testid=fork-preview-when][data-strategy=organic]")
    when.wait_for()
    # the reference: hops from Ada (p00) over the recorded small-world graph
    hears = nx.Graph([tuple(e) for e in graph["edges"]])
    first = sorted(hears.neighbors("p00"))
    dist = nx.multi_source_dijkstra_path_length(hears.subgraph(set(hears) - {"p00"}), set(first))
    rows = when.locator("li")
    expected = sorted({3 + d for d in dist.values()})
    assert [rows.nth(i).get_attribute("data-testid") for i in range(rows.count())] == [
        f"fork-preview-when-{s}" for s in expected
    ]
    counts = [int(rows.nth(i).get_attribute("data-count") or 0) for i in range(rows.count())]
    assert counts == [sum(1 for d in dist.values() if 3 + d == s) for s in expected]
    assert counts[0] == len(first) and sum(counts) == len(dist)
    page.locator("[data-testid=fork-dialog]").screenshot(path=str(artifacts / "fork-organic.png"))
    source.scroll_into_view_if_needed()
    page.locator("[data-testid=fork-dialog]").screenshot(
        path=str(artifacts / "fork-organic-source.png")
    )
