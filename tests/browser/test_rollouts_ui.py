"""Rollout sets in the web UI, in Chromium: run 12 futures of the town hall from the fork
dialog with an injection, watch the progress arrive over the WebSocket to the end, read the
effect in words and the charts (rates with CIs, strip plots, fan chart with the split step,
per-agent effects), open a future's branch. Saves ``artifacts/rollouts-*.png`` — look at them."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import NARROW, RUN_TIMEOUT_MS, WIDE, Page
from tests.server.conftest import LiveServer

FLOOD = (
    "Breaking news: the river rose two metres overnight and flooded the car park; "
    "the insurer says the barrier would have prevented it"
)
N = 12


def _record_stream(page: Any, frames: list[dict[str, Any]]) -> None:
    """Every message the page receives on a rollout set's WebSocket."""

    def on_socket(ws: Any) -> None:
        if "/v1/rollouts/" in ws.url:
            ws.on("framereceived", lambda payload: frames.append(json.loads(payload)))

    page.on("websocket", on_socket)


def _count(page: Any, selector: str) -> int:
    return int(page.locator(selector).count())


def test_run_futures_from_the_fork_dialog_and_read_the_effect(
    ui: Page, ui_server: LiveServer, artifacts: Path
) -> None:
    page = ui.page
    frames: list[dict[str, Any]] = []
    _record_stream(page, frames)
    root_id = ui.start_example(ui_server.owner_key, "town-hall")

    # the fork dialog offers "run N futures of this" with the same injection fields
    page.locator("[data-testid=step-head-4]").click()
    page.locator("[data-testid=fork-content]").fill(FLOOD)
    futures_n = page.locator("[data-testid=fork-futures-n]")
    assert futures_n.input_value() == "50"

    # a count the API refuses: its reason appears next to the field, nothing is created
    futures_n.fill("5000")
    page.locator("[data-testid=fork-futures-submit]").click()
    error = page.locator("[data-testid=fork-futures] [data-testid=field-error-n]")
    error.wait_for()
    assert "1000" in error.inner_text()
    assert ui_server.client(ui_server.owner_key).get("/v1/rollouts").json() == []
    assert [e for e in ui.errors if "422" not in e] == []  # the browser logs the refusal
    ui.errors.clear()

    futures_n.fill(str(N))
    assert error.count() == 0 and page.locator("[data-testid=fork-error]").is_hidden()
    assert page.locator("[data-testid=fork-futures-submit]").inner_text() == f"Run {N} futures"
    page.locator("[data-testid=fork-dialog]").screenshot(
        path=str(artifacts / "rollouts-dialog.png")
    )
    page.locator("[data-testid=fork-futures-submit]").click()

    # the set view: header, then live progress to the end
    page.wait_for_url(re.compile(r"#/rollouts/[0-9a-f]+$"))
    view = page.locator("[data-testid=rollout-view]")
    view.wait_for()
    set_id = view.get_attribute("data-set-id")
    assert set_id and page.url.endswith(set_id)
    assert FLOOD[:40] in page.locator("[data-testid=rollout-injection]").inner_text()
    assert page.locator("[data-testid=rollout-parent]").get_attribute("href") == f"#/b/{root_id}"
    if page.locator("[data-testid=rollout-waiting]").is_visible():  # usually: runs take ~2 s
        page.wait_for_function(  # the futures run (they are forked first)
            "document.querySelector('[data-testid=rollout-progress-set]')?.dataset.step"
            " || document.querySelector('[data-testid=rollout-status]')?.dataset.status === 'done'",
            timeout=RUN_TIMEOUT_MS,
        )
        ui.shot(artifacts, "rollouts-running.png")
    page.wait_for_function(
        "document.querySelector('[data-testid=rollout-status]')?.dataset.status === 'done'",
        timeout=RUN_TIMEOUT_MS,
    )
    for which in ("set", "control"):
        bar = page.locator(f"[data-testid=rollout-progress-{which}]")
        assert (bar.get_attribute("data-done"), bar.get_attribute("data-total")) == (str(N),) * 2
        assert f"{N} of {N} futures done" in bar.inner_text()
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "hello" and "progress" in kinds and kinds[-1] == "settled", kinds
    progress = [f["set"] for f in frames if f["type"] == "progress" and f["set"]]
    assert any(p["step"] for p in progress)  # the step the futures are at, while they run
    dones = [p["done"] for p in progress]
    assert dones == sorted(dones) and frames[-1]["set"]["progress"] == {"done": N, "total": N}
    polled = [u for u in ui.requests if re.search(rf"/v1/rollouts/{set_id}$", u)]
    assert len(polled) <= 1, polled  # progress came over the WebSocket, not by polling

    # each outcome: the effect in words, and a chart with data in it
    approved = page.locator("[data-testid=outcome-card][data-outcome=approved]")
    approved.locator("[data-testid=effect-sentence]").wait_for()
    sentence = approved.locator("[data-testid=effect-sentence]").inner_text()
    assert re.match(r"approved in \d+% \[\d+–\d+%\] of futures with the intervention vs", sentence)
    assert _count(page, "[data-outcome=approved] [data-testid=rate-chart] .rc-bar") == 2
    assert _count(page, "[data-outcome=approved] [data-testid=rate-chart] .rc-ci") == 2
    assert "p " in approved.locator("[data-testid=effect-numbers]").inner_text()
    # every future voted alike at temperature 0: the view says why and what to change
    assert "temperature" in page.locator("[data-testid=rollout-note]").inner_text()
    strip = "[data-outcome=mean_stance] [data-testid=strip-chart]"
    assert _count(page, f"{strip} .sc-dot") == 2 * N  # every future of both sets
    assert _count(page, f"{strip} .sc-mean") == 2
    # fan chart: bands of both sets, the split step marked after the fork
    fan = page.locator("[data-testid=fan-card][data-outcome=mean_stance] [data-testid=fan-chart]")
    assert fan.locator(".fan-band").count() == 4 and fan.locator(".fan-median").count() == 2
    split = int(fan.locator("[data-testid=split-marker]").get_attribute("data-step") or 0)
    assert split > 4
    # per-agent effects: one dot per agent of the town hall
    assert _count(page, "[data-testid=agent-chart] .ae-dot") == 9
    assert ui.errors == []
    ui.shot(artifacts, "rollouts-view.png", full=True)
    page.set_viewport_size(NARROW)  # a phone: one column, nothing scrolls sideways
    page.locator("[data-testid=fan-chart]").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    ui.shot(artifacts, "rollouts-view-400.png", full=True)
    page.set_viewport_size(WIDE)

    # the members: "vs control" compares one with its twin; a click opens its branch
    rows = page.locator("[data-testid=member-row]")
    assert rows.count() == N
    rows.first.locator("[data-testid=member-compare]").click()
    page.wait_for_url(re.compile(r"#/compare/[0-9a-f]+/[0-9a-f]+$"))
    page.locator("[data-testid=charts-panel]").wait_for()
    page.go_back()
    rows.first.wait_for()
    member = rows.nth(3).get_attribute("data-branch-id")
    rows.nth(3).click()
    page.wait_for_url(re.compile(rf"#/b/{member}$"))
    page.locator(f"[data-testid=branch-view][data-branch-id='{member}']").wait_for()
    # the open future keeps its own row in the tree; its siblings stay folded in their set
    page.locator(f"[data-testid=tree-node][data-branch-id='{member}']").wait_for()

    # the parent branch lists its rollout sets
    page.goto(f"{ui_server.base_url}/#/b/{root_id}")
    listed = page.locator(f"[data-testid=branch-rollouts] [data-set-id='{set_id}']")
    listed.wait_for()
    assert f"{N} futures after step 4" in listed.inner_text()
    page.locator("[data-testid=branch-rollouts]").screenshot(
        path=str(artifacts / "rollouts-branch-list.png")
    )
    # the tree folds each set's futures into one row (the set and its control)
    sets = page.locator("[data-testid=tree-set]")
    sets.first.wait_for()
    assert sets.count() == 2
    assert page.locator("[data-testid=tree-node]").count() == 1  # just the parent
    ui.shot(artifacts, "rollouts-parent.png")
    page.locator("[data-testid=tree-set]", has_text=set_id[:8]).locator(".tree-label").click()
    page.wait_for_url(re.compile(rf"#/rollouts/{set_id[:8]}$"))
    page.locator("[data-testid=effect-sentence]").first.wait_for()
    assert ui.errors == []


def test_a_set_without_injection_has_no_control(
    ui: Page, ui_server: LiveServer, artifacts: Path
) -> None:
    api = ui_server.client(ui_server.owner_key)
    root = api.post("/v1/examples/town-hall").json()["root_branch"]["id"]
    assert api.post(f"/v1/branches/{root}/run", json={"steps": 3}).status_code == 202
    deadline = 200
    while api.get(f"/v1/branches/{root}/status").json()["running"] and deadline:
        deadline -= 1
        ui.page.wait_for_timeout(50)
    made = api.post(f"/v1/branches/{root}/rollouts", json={"at_step": 2, "n": 3}).json()
    assert made["control_id"] is None

    page = ui.page
    page.goto(f"{ui_server.base_url}/#key={ui_server.owner_key}")
    home = page.locator(f"[data-testid=home-rollouts] [data-set-id='{made['id']}']")
    home.wait_for()
    assert "3 futures after step 2" in home.inner_text()
    page.locator("[data-testid=home-rollouts]").screenshot(
        path=str(artifacts / "rollouts-home-list.png")
    )
    page.goto(f"{ui_server.base_url}/#/rollouts/{made['id']}")
    page.wait_for_function(
        "document.querySelector('[data-testid=rollout-status]')?.dataset.status === 'done'",
        timeout=RUN_TIMEOUT_MS,
    )
    page.locator("[data-testid=effect-sentence]").first.wait_for()
    assert page.locator("[data-testid=rollout-progress-control]").is_hidden()
    assert "none" in page.locator("[data-testid=rollout-injection]").inner_text()
    sentence = page.locator("[data-outcome=approved] [data-testid=effect-sentence]").inner_text()
    assert re.match(r"approved in \d+% \[\d+–\d+%\] of 3 futures$", sentence), sentence
    assert _count(page, "[data-outcome=approved] .rc-bar, [data-outcome=approved] .rc-none") == 1
    assert page.locator("[data-testid=rollout-agents]").is_hidden()  # no control, no effect
    assert _count(page, "[data-testid=member-compare]") == 0
    assert _count(page, "[data-testid=member-row]") == 3
    ui.shot(artifacts, "rollouts-plain.png", full=True)
    assert ui.errors == []


def test_a_failed_set_says_why_and_offers_continue(
    ui: Page, ui_server: LiveServer, artifacts: Path
) -> None:
    """The model-backed negotiation with no model server: every future fails at its first
    step; the set says so with the reason, and nothing is charted."""
    with socket.socket() as probe:
        probe.settimeout(1)
        if probe.connect_ex(("localhost", 11434)) == 0:
            pytest.skip("a model server listens on localhost:11434: this test needs none there")
    api = ui_server.client(ui_server.owner_key)
    root = api.post("/v1/examples/negotiation-llm").json()["root_branch"]["id"]
    made = api.post(f"/v1/branches/{root}/rollouts", json={"at_step": 0, "n": 2})
    assert made.status_code == 202, made.text

    page = ui.page
    page.goto(f"{ui_server.base_url}/#key={ui_server.owner_key}")
    page.goto(f"{ui_server.base_url}/#/rollouts/{made.json()['id']}")
    page.wait_for_function(
        "document.querySelector('[data-testid=rollout-status]')?.dataset.status === 'failed'",
        timeout=RUN_TIMEOUT_MS,
    )
    banner = page.locator("[data-testid=rollout-failure]", has_text="2 futures failed")
    banner.wait_for()
    assert "2 futures failed" in banner.inner_text()
    assert "no model server" in banner.inner_text()
    assert page.locator("[data-testid=rollout-continue]").is_visible()
    assert "nothing to count yet" in page.locator("[data-testid=rollout-empty]").inner_text()
    assert _count(page, "[data-testid=rollout-effects] svg") == 0
    assert _count(page, "[data-testid=member-row] [data-status=failed]") == 2
    ui.shot(artifacts, "rollouts-failed.png", full=True)
    assert ui.errors == []
