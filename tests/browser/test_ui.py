"""The web UI in headless Chromium against the real app on uvicorn.

The story of the product: sign in from the URL, start the town-hall debate, watch its events
arrive live, fork after step 4 with a broadcast injection, watch the fork run, compare the two
futures (divergence at step 5, charts drawn) — on a SQLite file, then on PostgreSQL.
Screenshots at 1280×800 and 400×800 go to ``artifacts/`` — look at them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.support import NARROW, RUN_TIMEOUT_MS, Page
from tests.conftest import BACKENDS
from tests.server.api_support import all_events
from tests.server.conftest import LiveServer

INJECTION = "An independent study finds the barrier is safe and saves homes."

# Records the transcript's row count and the status pill on every DOM change.
WATCH_ROWS = """() => {
  window.__rows = [];
  const t0 = performance.now();
  new MutationObserver(() => {
    const n = document.querySelectorAll('[data-testid=event]').length;
    const s = document.querySelector('[data-testid=branch-status]')?.dataset.status || null;
    const last = window.__rows[window.__rows.length - 1];
    if (!last || last.n !== n || last.s !== s)
      window.__rows.push({t: Math.round(performance.now() - t0), n, s});
  }).observe(document.getElementById('view'), {subtree: true, childList: true, attributes: true});
}"""


def rendered_seqs(ui: Page) -> list[int]:
    return [
        int(s)
        for s in ui.page.locator("[data-testid=event]").evaluate_all(
            "rows => rows.map(r => r.dataset.seq)"
        )
    ]


@pytest.mark.parametrize("ui_server", BACKENDS, indirect=True)
def test_debate_live_fork_and_compare(ui: Page, ui_server: LiveServer, artifacts: Path) -> None:
    page = ui.page
    api = ui_server.client(ui_server.owner_key)

    # -- sign in from the URL fragment; the key leaves the address bar
    page.goto(f"{ui_server.base_url}/#key={ui_server.owner_key}")
    start = page.locator("[data-testid=example-start-town-hall]")
    start.wait_for()
    assert "key=" not in page.url
    ui.shot(artifacts, "ui-home-1280.png")

    # -- start the debate and watch it arrive live
    page.evaluate(WATCH_ROWS)
    start.click()
    page.locator("[data-testid=branch-view]").wait_for()
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=event]').length >= 60"
        " || document.querySelector('[data-testid=branch-status]')?.dataset.status === 'done'"
    )
    ui.shot(artifacts, "ui-running-1280.png")
    ui.wait_done()
    root_id = ui.branch_id()
    rows = page.evaluate("window.__rows")
    growing = [r["n"] for r in rows if r["s"] == "running"]
    assert len(set(growing)) >= 4, f"rows did not grow step by step while running: {rows}"
    assert growing == sorted(growing)
    assert growing[-1] < max(r["n"] for r in rows), "everything arrived only after the run"

    # every stored event is shown exactly once, in order (step_end closes a step, no row)
    stored = all_events(api, root_id)
    shown = rendered_seqs(ui)
    expected = [
        e["seq"]
        for e in stored
        if not (e["kind"] == "system" and e["payload"]["type"] == "step_end")
    ]
    assert shown == expected
    assert page.locator("[data-testid=step-head-12]").count() == 1
    first = page.locator("[data-kind=message]").first
    assert first.locator(".who").inner_text().strip()
    assert first.locator(".role").inner_text().strip()
    assert first.locator(".chip-stance").count() == 1
    ui.shot(artifacts, "ui-main-1280.png")

    # -- fork after step 4 with a broadcast injection
    page.locator("[data-testid=step-head-4]").click()
    dialog = page.locator("[data-testid=fork-dialog]")
    assert dialog.locator("h2").inner_text() == "Fork after step 4"
    page.locator("[data-testid=fork-content]").fill(INJECTION)
    page.locator("[data-testid=fork-strategy-broadcast]").check()
    assert page.locator("[data-testid=fork-target-mayor]").is_disabled()  # broadcast: everyone
    ui.shot(artifacts, "ui-fork-dialog-1280.png")
    page.locator("[data-testid=fork-submit]").click()
    page.wait_for_function(
        f"/#\\/b\\/(?!{root_id})[^/]+$/.test(location.hash)", timeout=RUN_TIMEOUT_MS
    )
    fork_id = ui.branch_id()
    assert fork_id != root_id
    ui.wait_done()
    injection = page.locator("[data-kind=injection]")
    assert injection.count() == 1
    assert INJECTION in injection.inner_text()
    assert "broadcast" in injection.inner_text().lower()
    assert page.locator("[data-testid=fork-divider]").count() == 1

    # the tree shows both branches, the fork's line leaving main at step 4
    nodes = page.locator("[data-testid=tree-node]")
    assert nodes.count() == 2
    labels = {nodes.nth(i).get_attribute("data-branch-id"): nodes.nth(i) for i in range(2)}
    assert set(labels) == {root_id, fork_id}
    assert labels[fork_id].get_attribute("data-status") == "done"
    assert labels[fork_id].locator(".tree-junction").count() == 1
    fork = api.get(f"/v1/branches/{fork_id}").json()
    assert fork["parent_id"] == root_id and fork["fork_step"] == 4
    injection.scroll_into_view_if_needed()
    page.locator("[data-testid=transcript]").evaluate("t => { t.scrollTop -= 160; }")
    ui.shot(artifacts, "ui-main-fork-1280.png")
    page.locator("[data-testid=tree]").screenshot(path=str(artifacts / "ui-tree-1280.png"))

    # -- compare the two futures
    page.locator("[data-testid=compare-with]").select_option(root_id)
    page.locator("[data-testid=compare-open]").click()
    page.locator("[data-testid=compare-view]").wait_for()
    assert page.url.endswith(f"#/compare/{root_id}/{fork_id}")
    divergence = page.locator("[data-testid=divergence-step]")
    divergence.wait_for()
    assert divergence.get_attribute("data-step") == "5"
    assert divergence.inner_text() == "step 5"
    page.locator("[data-testid=compare-transcript-b] [data-kind=injection]").wait_for()
    charts = page.locator("[data-testid=chart-card]")
    metrics = set(charts.evaluate_all("cards => cards.map(c => c.dataset.metric)"))
    assert {"divergence", "mean_stance", "spread", "approved", "consensus"} <= metrics
    # every chart has its lines and the divergence marker at step 5
    for i in range(charts.count()):
        card = charts.nth(i)
        assert card.locator("path.chart-line").count() >= 1
        marker = card.locator("[data-testid=divergence-marker]")
        assert marker.count() == 1 and marker.get_attribute("data-step") == "5"
    mean_chart = page.locator("[data-testid=chart-card][data-metric=mean_stance]")
    assert mean_chart.locator("path[data-series]").count() == 2  # A and B after the split
    assert page.locator("[data-testid=chart-multiple]").count() == 9  # stance per agent
    row = page.locator("[data-testid=outcome-row][data-metric=mean_stance]")
    cells = row.locator("td").all_inner_texts()
    assert len(cells) == 3 and cells[0] != cells[1]
    assert page.locator("[data-testid=usage-compare]").count() == 0  # rules brain: no model usage
    ui.shot(artifacts, "ui-compare-1280.png", full=True)

    # -- a narrow window: panels stack, nothing overflows sideways
    page.set_viewport_size(NARROW)
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    ui.shot(artifacts, "ui-compare-400.png", full=True)
    page.goto(f"{ui_server.base_url}/#/b/{fork_id}")
    page.locator("[data-testid=tree-node]").nth(1).wait_for()
    ui.wait_done()
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    ui.shot(artifacts, "ui-main-400.png")
    ui.shot(artifacts, "ui-main-400-full.png", full=True)
    page.locator("[data-testid=tree]").screenshot(path=str(artifacts / "ui-tree-400.png"))

    # -- nothing was loaded from anywhere but this server
    base = ui_server.base_url.removeprefix("http://")
    foreign = [u for u in ui.requests if not re.match(rf"^(https?|wss?)://{re.escape(base)}/", u)]
    assert not [u for u in foreign if not u.startswith("data:")], foreign
    assert not ui.errors, ui.errors


def test_problem_details_are_shown_inline(ui: Page, ui_server: LiveServer, artifacts: Path) -> None:
    page = ui.page
    page.goto(f"{ui_server.base_url}/#key={ui_server.owner_key}")
    page.locator("[data-testid=upload-input]").wait_for(state="attached")
    page.locator("[data-testid=upload-input]").set_input_files(
        {"name": "broken.yaml", "mimeType": "application/yaml", "buffer": b"name: x\nagents: 3\n"}
    )
    error = page.locator("[data-testid=upload-error]")
    error.wait_for()
    assert error.inner_text().strip()
    ui.shot(artifacts, "ui-upload-error-1280.png")

    # a bad key: the sign-in form says so
    page.evaluate("localStorage.clear()")
    page.reload()
    page.locator("[data-testid=key-input]").fill("agx_not_a_key")
    page.locator("[data-testid=signin-submit]").click()
    page.locator("[data-testid=signin-error]", has_text="not accepted").wait_for()
    assert not [e for e in ui.errors if "pageerror" in e], ui.errors


def test_pause_step_resume(ui: Page, ui_server: LiveServer) -> None:
    page = ui.page
    page.goto(f"{ui_server.base_url}/#key={ui_server.owner_key}")
    page.locator("[data-testid=example-start-town-hall]").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=branch-status]')?.dataset.status === 'running'"
        " && document.querySelector('[data-testid=step-head-1]') !== null"
    )
    page.locator("[data-testid=pause]").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=branch-status]')?.dataset.status === 'paused'",
        timeout=RUN_TIMEOUT_MS,
    )
    branch = ui_server.client(ui_server.owner_key).get(f"/v1/branches/{ui.branch_id()}").json()
    paused_at = branch["head_step"]
    assert 0 < paused_at < 12
    progress = page.locator("[data-testid=branch-progress]")
    assert progress.inner_text() == f"step {paused_at} of 12"
    assert page.locator("[data-testid=run]").inner_text().endswith("Resume")

    page.locator("[data-testid=step]").click()
    page.locator("[data-testid=branch-progress]", has_text=f"step {paused_at + 1} of 12").wait_for()
    page.locator(f"[data-testid=step-head-{paused_at + 1}]").wait_for()
    assert page.locator("[data-testid=branch-status]").get_attribute("data-status") == "paused"

    page.locator("[data-testid=run]").click()
    ui.wait_done()
    assert progress.inner_text() == "step 12 of 12"
    assert page.locator("[data-testid=run]").is_disabled()
    assert not [e for e in ui.errors if "pageerror" in e], ui.errors
