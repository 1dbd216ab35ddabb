"""Tools in the web UI: the market example's calls as transcript rows (``server · tool``,
arguments, result, latency), a variant with one feed that cannot start (red error rows, a
long result folded into a <details>), and the Tools panel with each server's health, usage
and Check now (hidden for viewers). A call still waiting for its result shows as pending.
Saves ``artifacts/tools-transcript.png`` and ``artifacts/tools-panel.png`` — look at them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.browser.support import RUN_TIMEOUT_MS, Page
from tests.server.api_support import all_events
from tests.server.conftest import LiveServer
from tests.support import EXAMPLES, ROOT

ROWS = "[data-testid=event][data-kind=tool_call]"


def feed_down_variant() -> dict[str, Any]:
    """The market example where Cass charts 20 days of history (a long result) and Eddie
    asks a price feed whose server refuses to start (every call an error)."""
    spec = yaml.safe_load((EXAMPLES / "market_tools.yaml").read_text())
    spec["name"] = "Market desk, one feed down"
    servers = spec["tools"]["servers"]
    servers["market"]["args"] = [str(EXAMPLES / "tools" / "market_server.py")]
    faulty = ROOT / "tests" / "tools" / "servers" / "faulty.py"
    servers["feed"] = {"command": sys.executable, "args": [str(faulty), "--mode", "never"]}
    quote = spec["actions"]["quote"]
    quote.pop("into")
    quote.update(tool="market.history", arguments={"symbol": "ACME", "days": 20})
    spec["actions"]["ticker"] = {**quote, "tool": "feed.get_price", "into": "price"}
    spec["actions"]["ticker"]["arguments"] = {"symbol": "ACME"}
    cass, eddie = spec["agents"]
    cass["tools"] = ["market.history"]
    eddie.update(tools=["feed.*"], actions=["ticker", "buy"])
    return spec


def results_of(api: Any, branch_id: str) -> list[dict[str, Any]]:
    return [e for e in all_events(api, branch_id) if e["kind"] == "tool_result"]


def test_market_calls_are_rows_and_the_panel_shows_the_server(
    ui: Page, ui_server: LiveServer
) -> None:
    page = ui.page
    branch_id = ui.start_example(ui_server.owner_key, "market_tools")
    with ui_server.client(ui_server.owner_key) as api:
        results = results_of(api, branch_id)
        calls = [e for e in all_events(api, branch_id) if e["kind"] == "tool_call"]
    assert results
    rows = page.locator(ROWS)
    assert rows.count() == len(results)  # one row per call and its result
    first, result = rows.first, results[0]
    assert first.get_attribute("data-state") == "ok"
    assert (first.get_attribute("data-server"), first.get_attribute("data-tool")) == (
        "market",
        "get_price",
    )
    assert first.get_attribute("data-result-seq") == str(result["seq"])
    assert first.locator("[data-testid=tool-badge]").inner_text().split() == [
        "market",
        "·",
        "get_price",
    ]
    args = json.dumps(calls[0]["payload"]["arguments"], separators=(",", ":"))
    assert "ACME" in args and first.locator("[data-testid=tool-args]").inner_text() == args
    price = result["payload"]["result"]["result"]
    assert first.locator("[data-testid=tool-value]").inner_text() == str(price)
    assert first.locator("[data-testid=tool-state]").inner_text().endswith("ms")
    assert first.locator(".avatar").inner_text() in {"CA", "ED"}  # the caller's avatar

    panel = page.locator("[data-testid=tools-panel][data-ready=true]")
    card = panel.locator("[data-testid=tool-server][data-server=market]")
    card.wait_for()
    # the panel first loaded while the run was starting the server; it refetches after the
    # run's last step (at most a second later)
    page.wait_for_function(
        "document.querySelector('[data-testid=tool-server][data-server=market]')"
        "?.dataset.status === 'up'"
    )
    page.wait_for_function(
        "n => document.querySelector('[data-server=market] [data-testid=tool-usage]')"
        "?.textContent.startsWith(`${n} calls`)",
        arg=len(results),
    )
    assert card.locator("[data-testid=tool-list] li").count() == 3
    assert card.locator("[data-testid=tool-agents] [data-agent]").count() == 2
    assert panel.locator("[data-testid=tools-check]").is_visible()
    assert not ui.errors, ui.errors


def test_errors_long_results_check_now_and_viewers(
    ui: Page, ui_server: LiveServer, artifacts: Path
) -> None:
    page = ui.page
    with ui_server.client(ui_server.owner_key) as api:
        made = api.post("/v1/scenarios", json=feed_down_variant())
        assert made.status_code == 201, made.text
    branch_id = made.json()["root_branch"]["id"]
    page.goto(f"{ui.base_url}/#key={ui_server.owner_key}")
    page.locator("[data-testid=examples]").wait_for()
    page.goto(f"{ui.base_url}/#/b/{branch_id}")
    page.locator("[data-testid=run]").click()
    ui.wait_done()

    failed = page.locator(f"{ROWS}[data-state=error]")
    assert failed.count() >= 1 and failed.first.get_attribute("data-server") == "feed"
    assert "ev-tool-error" in (failed.first.get_attribute("class") or "")
    reason = failed.first.locator("[data-testid=tool-error]").inner_text()
    assert "server 'feed' is down" in reason and "refusing to start" in reason
    assert failed.first.locator("[data-testid=tool-state]").inner_text().startswith("failed")

    # a long result is folded: its summary previews it, opening shows the pretty JSON
    chart = page.locator(f"{ROWS}[data-state=ok][data-tool=history]").first
    fold = chart.locator("details[data-testid=tool-value]")
    assert fold.get_attribute("open") is None
    assert not chart.locator(".tool-pre").is_visible()
    chart.locator("summary").focus()
    page.keyboard.press("Enter")  # keyboard: a <summary> opens with Enter
    assert fold.get_attribute("open") is not None
    with ui_server.client(ui_server.owner_key) as api:
        first_chart = next(
            r for r in results_of(api, branch_id) if r["payload"]["tool"] == "history"
        )
    shown = chart.locator(".tool-pre").inner_text()
    values = [float(x) for x in shown.strip("[]\n ").split(",")]
    assert values == first_chart["payload"]["result"]["result"]
    # the picture: the first error row at the top, the opened chart below it
    page.set_viewport_size({"width": 1280, "height": 1250})
    page.evaluate("document.activeElement.blur()")
    failed.first.evaluate("el => el.closest('.step').scrollIntoView({block: 'start'})")
    page.locator(".transcript-panel").screenshot(path=str(artifacts / "tools-transcript.png"))

    # Check now: the feed is down (its reason said), the market up
    panel = page.locator("[data-testid=tools-panel][data-ready=true]")
    panel.wait_for()
    with page.expect_response(lambda r: r.url.endswith("/tools/check")) as checked:
        panel.locator("[data-testid=tools-check]").click()
    assert checked.value.status == 200
    feed = panel.locator("[data-testid=tool-server][data-server=feed]")
    page.wait_for_function(
        "document.querySelector('[data-testid=tool-server][data-server=feed]')"
        "?.dataset.status === 'down'",
        timeout=RUN_TIMEOUT_MS,
    )
    assert "refusing to start" in feed.locator("[data-testid=tool-last-error]").inner_text()
    assert feed.locator("[data-testid=tool-health]").inner_text() == "down"
    market = panel.locator("[data-testid=tool-server][data-server=market]")
    assert market.get_attribute("data-status") == "up"
    assert "1 error" not in market.locator("[data-testid=tool-usage]").inner_text()
    agents = market.locator("[data-testid=tool-agents]").inner_text()
    assert "Cass" in agents and "Eddie" not in agents  # only Cass may chart
    assert "2 servers · 1 down" in panel.locator("[data-testid=tools-note]").inner_text()
    panel.screenshot(path=str(artifacts / "tools-panel.png"))
    ui.shot(artifacts, "tools-branch.png")
    page.set_viewport_size({"width": 1280, "height": 800})

    # a viewer sees the panel, not Check now
    viewer = ui_server.make_key("default", "viewer")
    page.goto(f"{ui.base_url}/#key={viewer}")
    page.locator("[data-testid=examples]").wait_for()
    page.goto(f"{ui.base_url}/#/b/{branch_id}")
    page.locator("[data-testid=tools-panel][data-ready=true]").wait_for()
    assert page.locator("[data-testid=tools-check]").is_hidden()
    assert not ui.errors, ui.errors


def test_a_call_is_pending_until_its_result_arrives(ui: Page) -> None:
    """The live case, on the real Transcript: the call shows at once, the result fills it."""
    page = ui.page
    page.goto(f"{ui.base_url}/")
    state = page.evaluate(
        """async () => {
          const { Transcript } = await import('/transcript.js');
          const box = document.createElement('div');
          document.body.append(box);
          const ann = {name: 'Ann', role: 'r', color: '#123'};
          const t = new Transcript(box, {agents: new Map([['a', ann]])});
          const named = {name: 'svc.slow', server: 'svc', tool: 'slow', call: 0};
          t.add([{seq: 5, step: 1, kind: 'tool_call', agent_id: 'a',
                  payload: {...named, arguments: {n: 1}}}]);
          const row = box.querySelector('[data-kind=tool_call]');
          const before = [row.dataset.state, row.getAttribute('aria-busy'),
                          row.querySelector('[data-testid=tool-result]').textContent];
          t.add([{seq: 6, step: 1, kind: 'tool_result', agent_id: 'a',
                  payload: {...named, error: 'timed out after 2s', latency_ms: 2000.4,
                            truncated: false}}]);
          return {before, after: [row.dataset.state, row.getAttribute('aria-busy'),
                  row.querySelector('[data-testid=tool-error]').textContent,
                  row.querySelector('[data-testid=tool-state]').textContent,
                  row.querySelector('.seq').textContent],
                  rows: box.querySelectorAll('[data-kind=tool_call]').length};
        }"""
    )
    assert state["before"] == ["pending", "true", "resultwaiting for the result…"]
    assert state["after"] == ["error", None, "timed out after 2s", "failed 2 s", "#5–6"]
    assert state["rows"] == 1
    assert not ui.errors, ui.errors
