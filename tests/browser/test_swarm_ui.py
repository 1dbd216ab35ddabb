"""The swarm views of the branch: the Emergence panel (the metrics per step, as
``GET /v1/branches/{id}/metrics`` computes them) and who heard what in the Network panel (an
agent clicked: the edges it heard along and the messages; the step slider; an organic
injection's reach), on the 30-villager small-world rumour run from its card and an organic
fork of it. Every figure shown is checked against the API. Screenshots go to the test's tmp
dir and to ``artifacts/`` (``swarm-*.png``) — look at them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.browser.support import NARROW, WIDE, Page
from tests.server.api_support import PLANT_NEWS, organic_fork, run_to_end
from tests.server.conftest import LiveServer

NEWS = PLANT_NEWS


def _save(ui: Page, name: str, folders: tuple[Path, Path], locator: Any = None) -> None:
    first, second = folders
    ui.page.wait_for_timeout(500)  # the edges' and nodes' colour transitions (0.4–0.6 s) end
    if locator is None:
        ui.shot(first, name)
    else:
        locator.screenshot(path=str(first / name), animations="disabled")
    shutil.copy(first / name, second / name)


def _heard_by(body: dict[str, Any], agent: str) -> list[dict[str, Any]]:
    return [x for x in body["said"] if agent in x["hearers"]]


def _show_step(ui: Page, step: int) -> None:
    ui.page.evaluate(
        """(step) => { const s = document.querySelector('[data-testid=network-slider]');
        s.value = String(step); s.dispatchEvent(new Event('input', {bubbles: true})); }""",
        step,
    )
    ui.page.wait_for_function(
        """(step) => { const p = document.querySelector('[data-testid=network-panel]');
        return p.dataset.shownStep === String(step) && p.dataset.hearings === 'ready'; }""",
        arg=step,
    )


def test_emergence_panel_and_who_heard_what(
    ui: Page, ui_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    page = ui.page
    shots = (tmp_path, artifacts)
    root = ui.start_example(ui_server.owner_key, "rumour_small_world")
    http = ui_server.client(ui_server.owner_key)
    metrics = http.get(f"/v1/branches/{root}/metrics").json()
    final = metrics["final"]
    assert final["step"] == 15

    # --- the Emergence panel: one chart per metric, its value at the head, the method named
    panel = page.locator("[data-testid=emergence-panel][data-step='15']")
    panel.wait_for()
    cards = panel.locator("[data-testid=emergence-metric]")
    shown = [cards.nth(i).get_attribute("data-metric") for i in range(cards.count())]
    # a small world has no groups: no echo-chamber chart
    assert shown == [
        "polarization",
        "opinion_clusters",
        "bimodality",
        "stance_spread",
        "mean_stance",
    ]
    for key in shown:
        card = panel.locator(f"[data-testid=emergence-metric][data-metric={key}]")
        assert (
            float(card.locator("[data-testid=emergence-value]").get_attribute("data-value"))
            == (final[key])
        )
        ends = card.locator(".chart-end title").text_content() or ""
        assert ends.endswith("at step 15"), ends
        assert card.locator("path.chart-line").count() == 1
    assert "Esteban–Ray" in (
        panel.locator("[data-testid=emergence-metric][data-metric=polarization]").get_attribute(
            "title"
        )
        or ""
    )
    consensus = panel.locator("[data-testid=emergence-consensus]")
    assert consensus.get_attribute("data-value") == str(metrics["consensus_step"] or "")
    top = max(metrics["influence"].items(), key=lambda kv: (kv[1], kv[0]))
    first = panel.locator("[data-testid=emergence-influence] li").first
    assert first.get_attribute("data-agent") == top[0]
    panel.locator("[data-testid=emergence-legend] summary").click()
    how = panel.locator("[data-testid=emergence-how][data-metric=opinion_clusters]").inner_text()
    assert str(metrics["params"]["cluster_gap"]) in how
    assert (
        "α = 1.6"
        in panel.locator("[data-metric=polarization][data-testid=emergence-how]").inner_text()
    )
    page.set_viewport_size({"width": 1280, "height": 1500})  # the whole panel in view
    _save(ui, "swarm-emergence.png", shots, panel)
    page.set_viewport_size(WIDE)

    # --- who heard what at the head step: click Ada
    net = page.locator("[data-testid=network-panel][data-ready=true]")
    page.wait_for_function(
        "(() => { const p = document.querySelector('[data-testid=network-panel]');"
        " return p.dataset.shownStep === '15' && p.dataset.hearings === 'ready'; })()"
    )
    head = http.get(f"/v1/branches/{root}/hearings", params={"step": 15}).json()
    lit = {frozenset((x["agent_id"], h)) for x in head["said"] for h in x["hearers"]}
    assert net.get_attribute("data-lit-edges") == str(len(lit))
    assert net.locator(".net-edge-lit").count() == len(lit)
    net.locator("[data-agent=p00]").click()
    expected = _heard_by(head, "p00")
    assert expected, "Ada's neighbours spoke at step 15"
    items = net.locator("[data-testid=network-heard-item]")
    assert [items.nth(i).get_attribute("data-seq") for i in range(items.count())] == [
        str(x["seq"]) for x in expected
    ]
    names = {
        n["id"]: n["name"]
        for n in http.get(f"/v1/scenarios/{head_scenario(http, root)}/topology").json()["nodes"]
    }
    for i, x in enumerate(expected):
        text = items.nth(i).inner_text()
        assert names[x["agent_id"]] in text and x["text"][:40] in text
    tellers = net.locator(".net-node-teller")
    assert {tellers.nth(i).get_attribute("data-agent") for i in range(tellers.count())} == {
        x["agent_id"] for x in expected
    }
    heard_edges = net.locator(".net-edge-heard")
    assert heard_edges.count() == len({x["agent_id"] for x in expected})
    for i in range(heard_edges.count()):
        ends = {
            heard_edges.nth(i).get_attribute("data-a"),
            heard_edges.nth(i).get_attribute("data-b"),
        }
        assert "p00" in ends
    assert (
        page.locator("[data-testid=network-heard] p")
        .inner_text()
        .startswith(f"At step 15, Ada Moss heard {len(expected)} thing")
    )
    _save(ui, "swarm-heard.png", shots, net)

    # --- back to step 5 with the slider: colours and what Ada heard then
    _show_step(ui, 5)
    then = http.get(f"/v1/branches/{root}/hearings", params={"step": 5}).json()
    assert page.locator("[data-testid=network-step]").inner_text() == "step 5 of 15"
    for agent, stance in then["stances"].items():
        assert (
            float(net.locator(f"[data-agent={agent}]").get_attribute("data-stance") or "nan")
            == stance
        )
    items = net.locator("[data-testid=network-heard-item]")
    assert [items.nth(i).get_attribute("data-seq") for i in range(items.count())] == [
        str(x["seq"]) for x in _heard_by(then, "p00")
    ]
    # the emergence charts mark the step the network shows
    cursors = page.locator("[data-testid=emergence-panel] [data-testid=chart-cursor]")
    assert cursors.count() == len(shown)
    assert {cursors.nth(i).get_attribute("data-step") for i in range(len(shown))} == {"5"}
    _save(ui, "swarm-step5.png", shots)
    assert page.locator("[data-testid=network-latest]").is_enabled()
    page.locator("[data-testid=network-latest]").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=network-panel]').dataset.shownStep === '15'"
    )
    assert cursors.count() == 0
    _save(ui, "swarm-branch.png", shots)

    # --- an organic fork: the news reaches Ada at step 4 and spreads one hop a step
    fork_id = organic_fork(http, root)
    page.goto(f"{ui.base_url}/#/b/{fork_id}")
    page.locator("[data-testid=network-panel][data-ready=true]").wait_for()
    # the fork's emergence charts draw the inherited steps (0..3) grey
    page.locator("[data-testid=emergence-panel][data-step='9']").wait_for()
    assert page.locator("[data-testid=emergence-panel] .chart-line-shared").count() == len(shown)
    for step in (4, 6):
        _show_step(ui, step)
        body = http.get(f"/v1/branches/{fork_id}/hearings", params={"step": step}).json()
        (reach,) = body["injections"]
        row = page.locator("[data-testid=network-reach-row]")
        assert row.get_attribute("data-heard") == str(len(reach["heard"]))
        assert f"heard by {len(reach['heard'])} of 30" in row.inner_text()
        marked = page.locator(".net-node-reached")
        assert {marked.nth(i).get_attribute("data-agent") for i in range(marked.count())} == set(
            reach["heard"]
        )
        fresh = page.locator(".net-node-fresh")
        now = {a for w in reach["waves"] if w["step"] == step for a in w["agents"]}
        assert {fresh.nth(i).get_attribute("data-agent") for i in range(fresh.count())} == now
        if step > 4:
            assert page.locator(".net-edge-spread").count() > 0
    # a villager who first heard it at step 6 lists it, and through whom
    body = http.get(f"/v1/branches/{fork_id}/hearings", params={"step": 6}).json()
    wave = next(w for w in body["injections"][0]["waves"] if w["step"] == 6)
    who = wave["agents"][0]
    page.locator(f"[data-testid=network-panel] [data-agent={who}]").click()
    told = page.locator(".net-heard-inj")
    assert told.count() == 1
    assert f"via {names[wave['via']]}" in told.inner_text() and NEWS[:30] in told.inner_text()
    assert page.locator(".net-edge-heard").count() >= 1
    _save(ui, "swarm-organic.png", shots, page.locator("[data-testid=network-panel]"))
    _save(ui, "swarm-organic-branch.png", shots)

    # narrow: the panels stack, nothing scrolls sideways
    page.set_viewport_size(NARROW)
    page.wait_for_timeout(200)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.locator("[data-testid=network-panel]").scroll_into_view_if_needed()
    _save(ui, "swarm-organic-400.png", shots)
    page.locator("[data-testid=emergence-panel]").scroll_into_view_if_needed()
    _save(ui, "swarm-emergence-400.png", shots)
    http.close()
    assert not ui.errors, ui.errors
    assert not ui.foreign_requests()


def head_scenario(http: Any, branch_id: str) -> str:
    return str(http.get(f"/v1/branches/{branch_id}").json()["scenario_id"])


def test_emergence_panel_of_a_groups_swarm_charts_the_echo_chamber(
    ui: Page, ui_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    """The 50-agent groups-and-bridges study: the echo-chamber chart and the E-I index appear
    (only for groups topologies), with the API's values."""
    page = ui.page
    with ui_server.client(ui_server.owner_key) as http:
        made = http.post("/v1/examples/polarization_groups")
        assert made.status_code == 201, made.text
        root = made.json()["root_branch"]["id"]
        run_to_end(http, root)
        metrics = http.get(f"/v1/branches/{root}/metrics").json()
    page.goto(f"{ui.base_url}/#key={ui_server.owner_key}")
    page.locator("[data-testid=examples]").wait_for()
    page.goto(f"{ui.base_url}/#/b/{root}")
    head = str(metrics["final"]["step"])
    panel = page.locator(f"[data-testid=emergence-panel][data-step='{head}']")
    panel.wait_for()
    echo = panel.locator("[data-testid=emergence-metric][data-metric=echo_chamber]")
    value = echo.locator("[data-testid=emergence-value]").get_attribute("data-value")
    assert float(value or "nan") == metrics["final"]["echo_chamber"]
    assert "share of the step's hearings" in (echo.get_attribute("title") or "")
    ei = panel.locator("[data-testid=emergence-ei]")
    assert float(ei.get_attribute("data-value") or "nan") == metrics["ei_index"]
    page.set_viewport_size({"width": 1280, "height": 1500})
    _save(ui, "swarm-emergence-groups.png", (tmp_path, artifacts), panel)
    _save(ui, "swarm-groups-branch.png", (tmp_path, artifacts))
    assert not ui.errors, ui.errors
