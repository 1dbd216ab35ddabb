"""The Usage panel: model tokens and cost in the branch view and in the compare view.

The buyer and the seller think with the ``openai`` brain against the fake OpenAI-compatible
provider (``aegntix.testing.FakeLLM``) on a loopback port; the mediator keeps the rules brain.
Every number the UI shows is checked against ``GET /v1/branches/{id}/usage``. A rules-only
example says it is offline instead of showing zeros. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from aegntix.testing import FakeLLM, Reply
from aegntix.testing.fake_llm import Request
from tests.browser.support import NARROW, RUN_TIMEOUT_MS, Page
from tests.server.api_support import run_to_end
from tests.server.conftest import LiveServer
from tests.support import EXAMPLES

KEY_ENV = "AEGNTIX_TEST_UI_LLM_KEY"
STEPS = 4
SELLER = "Sam Ortega"
FAILING_BUYER_REQUEST = 3  # the buyer's turn in step 3 of the first run
RECORDED = ("decisions", "calls", "tokens_in", "tokens_out", "cost")
BILLED = ("calls", "tokens_in", "tokens_out", "cost")

# Records the usage total (decisions) and the status on every change of the branch view.
WATCH_USAGE = """() => {
  window.__usage = [];
  new MutationObserver(() => {
    const cell = document.querySelector('[data-testid=usage-total] td');
    const d = cell ? Number(cell.dataset.value) : null;
    const s = document.querySelector('[data-testid=branch-status]')?.dataset.status || null;
    const last = window.__usage[window.__usage.length - 1];
    if (!last || last.d !== d || last.s !== s) window.__usage.push({d, s});
  }).observe(document.getElementById('view'), {subtree: true, childList: true, attributes: true});
}"""


class Provider:
    """What the fake answers: a plain remark, a little slow so the run can be watched. The
    seller's calls are bigger than the buyer's, so the two agents' rows differ, and the
    buyer's third request fails (no retries: the rules brain decides, a fallback)."""

    def __init__(self) -> None:
        self.buyer_requests = 0
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        if f"You are {SELLER}" in request.prompt_text():
            tokens = (700, 60)
        else:
            with self._lock:
                self.buyer_requests += 1
                if self.buyer_requests == FAILING_BUYER_REQUEST:
                    return Reply.status_code(503)
            tokens = (500, 40)
        content = {"action": "say", "content": "Let us keep talking."}
        return Reply(answer=content, tokens=tokens, delay=0.15)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    with FakeLLM(Provider()) as server:
        yield server


@pytest.fixture
def llm_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key the scenario names (read by the server, which runs in this process)."""
    monkeypatch.setenv(KEY_ENV, "sk-aegntix-ui-test-key")
    monkeypatch.setenv("AEGNTIX_SECRETS", "/nonexistent/aegntix-secrets.env")


def llm_negotiation(fake: FakeLLM) -> str:
    """The negotiation example with buyer and seller on the fake provider (YAML)."""
    data = yaml.safe_load((EXAMPLES / "negotiation.yaml").read_text())
    data["name"] = "Delivery van sale (model brains)"
    data["brain"] = {
        "kind": "openai",
        "model": "fake-1",
        "base_url": fake.openai_url,
        "api_key_env": KEY_ENV,
        "backoff": 0.01,
        "max_retries": 0,  # a failed call falls back to the rules brain at once
        "timeout": 5,
        "prices": {"input": 0.5, "output": 1.5},
    }
    for agent in data["agents"]:
        if agent["id"] == "mediator":
            agent["brain"] = {"kind": "rules"}
    data["termination"]["max_steps"] = STEPS
    return str(yaml.safe_dump(data, sort_keys=False))


def usage(api: httpx.Client, branch_id: str) -> dict[str, Any]:
    r = api.get(f"/v1/branches/{branch_id}/usage")
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()
    return report


def shown(text: str) -> float:
    """A number as the UI prints it: ``1,234``, ``0.4400``, ``−12``, ``+3``."""
    return float(text.replace(",", "").replace("−", "-").replace("+", ""))


def assert_row(row: Any, expected: dict[str, Any], cols: tuple[str, ...]) -> None:
    """The row's cells show ``expected`` (exactly in data-value; as printed, to 4 decimals)."""
    cells = row.locator("td")
    assert cells.count() == len(cols)
    for i, col in enumerate(cols):
        cell = cells.nth(i)
        want = expected[col]
        assert float(cell.get_attribute("data-value")) == want, (col, want)
        text = cell.inner_text().strip()
        if col == "cost":
            assert abs(shown(text) - want) < 0.00005 + 1e-12, (col, text, want)
        else:
            assert shown(text) == want and text == f"{want:,}", (col, text, want)


def wait_usage_total(ui: Page, branch_id: str, decisions: int) -> None:
    """Until the branch view of ``branch_id`` shows ``decisions`` in its usage total."""
    ui.page.wait_for_function(
        """([id, n]) =>
          document.querySelector('[data-testid=branch-view]')?.dataset.branchId === id
          && Number(document.querySelector('[data-testid=usage-total] td')?.dataset.value) === n""",
        arg=[branch_id, decisions],
        timeout=RUN_TIMEOUT_MS,
    )


def test_usage_panel_with_model_brains(
    ui: Page, ui_server: LiveServer, fake: FakeLLM, llm_key: None, artifacts: Path
) -> None:
    page = ui.page
    api = ui_server.client(ui_server.owner_key)
    r = api.post(
        "/v1/scenarios",
        content=llm_negotiation(fake),
        headers={"content-type": "application/yaml"},
    )
    assert r.status_code == 201, r.text
    root_id = r.json()["root_branch"]["id"]

    # -- before the run: model brains configured, nothing used yet
    page.goto(f"{ui_server.base_url}/#key={ui_server.owner_key}")
    page.locator("[data-testid=examples]").wait_for()
    page.goto(f"{ui_server.base_url}/#/b/{root_id}")
    page.locator("[data-testid=usage-none-yet]").wait_for()
    assert page.locator("[data-testid=usage-offline]").count() == 0
    assert "Lee Park" in page.locator("[data-testid=usage-rules-agents]").inner_text()

    # -- run it; the panel follows the run (coalesced refreshes, not one per event)
    page.evaluate(WATCH_USAGE)
    page.locator("[data-testid=run]").click()
    ui.wait_done()
    report = usage(api, root_id)
    recorded = report["recorded"]
    total = recorded["total"]
    assert set(recorded["agents"]) == {"buyer", "seller"}
    assert total["decisions"] == 2 * STEPS and total["tokens_in"] > 0 and total["cost"] > 0
    wait_usage_total(ui, root_id, total["decisions"])
    seen = page.evaluate("window.__usage")
    values = [s["d"] for s in seen if s["d"] is not None]
    assert any(0 < s["d"] < total["decisions"] for s in seen if s["d"] is not None), seen
    assert values == sorted(values) and values[-1] == total["decisions"], seen
    fetches = [u for u in ui.requests if u.endswith(f"/v1/branches/{root_id}/usage")]
    events = len(api.get(f"/v1/branches/{root_id}/events?limit=1000").json()["events"])
    assert 2 <= len(fetches) <= STEPS + 4 < events, (len(fetches), events)

    # -- the numbers shown are the API's: per agent, total, billed
    panel = page.locator("[data-testid=usage-panel]")
    rows = panel.locator("[data-testid=usage-agent]")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.agent)")) == ["buyer", "seller"]
    for agent_id, values_ in recorded["agents"].items():
        row = panel.locator(f"[data-testid=usage-agent][data-agent={agent_id}]")
        assert_row(row, values_, RECORDED)
        assert row.get_attribute("data-fallbacks") == str(values_["fallbacks"])
    # in the narrow side column an agent is its avatar; the name is in the tooltip
    seller_row = panel.locator("[data-testid=usage-agent][data-agent=seller]")
    assert seller_row.locator(".avatar").inner_text() == "SO"
    assert SELLER in (seller_row.locator("th").get_attribute("title") or "")
    assert_row(panel.locator("[data-testid=usage-total]"), total, RECORDED)
    # the buyer's failed call: one fallback, flagged on its row and counted under the table
    assert recorded["agents"]["buyer"]["fallbacks"] == 1 == total["fallbacks"]
    buyer_row = panel.locator("[data-testid=usage-agent][data-agent=buyer]")
    assert buyer_row.locator(".usage-fb").inner_text() == "⚠1"
    assert seller_row.locator(".usage-fb").count() == 0
    note = panel.locator("[data-testid=usage-fallbacks]")
    assert note.get_attribute("data-value") == "1"
    assert "1 decision fell back to the rules brain (Dana Whitfield 1)" in note.inner_text()
    for scope in ("branch", "scenario", "tenant"):
        row = panel.locator(f"[data-testid=usage-billed-row][data-scope={scope}]")
        assert_row(row, report["billed"][scope], BILLED)
    assert report["billed"]["branch"]["calls"] == total["calls"] > 0  # nothing came from cache
    assert panel.locator("[data-testid=usage-models]").inner_text() == "openai · fake-1"
    assert "Lee Park" in panel.locator("[data-testid=usage-rules-agents]").inner_text()
    assert page.locator("[data-testid=usage-offline]").count() == 0
    ui.shot(artifacts, "ui-usage-1280.png")
    panel.screenshot(path=str(artifacts / "ui-usage-panel-1280.png"))

    # -- a fork with an injection: only the changed prompts are paid for
    r = api.post(
        f"/v1/branches/{root_id}/fork",
        json={
            "at_step": 2,
            "label": "lease-ends",
            "injection": {"content": "The bakery's lease ends on Friday.", "strategy": "broadcast"},
        },
    )
    assert r.status_code in (200, 201), r.text
    fork_id = r.json()["id"]
    run_to_end(api, fork_id)
    fork_report = usage(api, fork_id)
    assert 0 < fork_report["billed"]["branch"]["calls"] < fork_report["recorded"]["total"]["calls"]

    # selecting another branch in the tree shows that branch's usage
    page.reload()
    page.locator("[data-testid=tree-node]").nth(1).wait_for()
    wait_usage_total(ui, root_id, total["decisions"])
    page.locator(f"[data-testid=tree-node][data-branch-id='{fork_id}']").click()
    page.wait_for_function(f"location.hash === '#/b/{fork_id}'")
    wait_usage_total(ui, fork_id, fork_report["recorded"]["total"]["decisions"])
    panel = page.locator("[data-testid=usage-panel]")
    assert_row(
        panel.locator("[data-testid=usage-total]"), fork_report["recorded"]["total"], RECORDED
    )
    billed_branch = panel.locator("[data-testid=usage-billed-row][data-scope=branch]")
    assert_row(billed_branch, fork_report["billed"]["branch"], BILLED)
    assert "Since the fork" in panel.locator("[data-testid=usage-own]").inner_text()

    # -- compare: both branches' usage side by side
    page.goto(f"{ui_server.base_url}/#/compare/{root_id}/{fork_id}")
    table = page.locator("[data-testid=usage-compare]")
    table.wait_for()
    reports = (report, fork_report)
    for metric in ("decisions", "calls", "tokens_in", "tokens_out", "cost", "fallbacks"):
        row = table.locator(f"[data-testid=usage-compare-row][data-metric='recorded.{metric}']")
        cells = row.locator("td")
        for i, rep in enumerate(reports):
            want = rep["recorded"]["total"][metric]
            assert float(cells.nth(i).get_attribute("data-value")) == want
            assert abs(shown(cells.nth(i).inner_text()) - want) < 0.00005 + 1e-12
    row = table.locator("[data-testid=usage-compare-row][data-metric='billed.calls']")
    assert [shown(t) for t in row.locator("td").all_inner_texts()[:2]] == [
        rep["billed"]["branch"]["calls"] for rep in reports
    ]
    ui.shot(artifacts, "ui-usage-compare-1280.png", full=True)
    table.screenshot(path=str(artifacts / "ui-usage-compare-table-1280.png"))

    # -- a narrow window: nothing scrolls sideways
    page.set_viewport_size(NARROW)
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    table.evaluate("t => window.scrollTo(0, t.getBoundingClientRect().top + scrollY - 60)")
    ui.shot(artifacts, "ui-usage-compare-400.png")
    page.goto(f"{ui_server.base_url}/#/b/{fork_id}")
    wait_usage_total(ui, fork_id, fork_report["recorded"]["total"]["decisions"])
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    panel = page.locator("[data-testid=usage-panel]")
    assert panel.locator("[data-agent=seller] .usage-label").inner_text() == SELLER  # room here
    ui.shot(artifacts, "ui-usage-400-full.png", full=True)
    panel.evaluate("p => window.scrollTo(0, p.getBoundingClientRect().top + scrollY - 60)")
    ui.shot(artifacts, "ui-usage-400.png")

    assert not ui.foreign_requests(), ui.foreign_requests()
    assert not ui.errors, ui.errors


def test_usage_panel_rules_only(ui: Page, ui_server: LiveServer, artifacts: Path) -> None:
    page = ui.page
    api = ui_server.client(ui_server.owner_key)
    page.goto(f"{ui_server.base_url}/#key={ui_server.owner_key}")
    page.locator("[data-testid=example-start-negotiation]").click()
    page.locator("[data-testid=branch-view]").wait_for()
    ui.wait_done()
    report = usage(api, ui.branch_id())
    assert report["recorded"]["total"]["decisions"] == 0
    offline = page.locator("[data-testid=usage-offline]")
    offline.wait_for()
    assert offline.inner_text().strip() == "Offline rules brain — no model usage."
    panel = page.locator("[data-testid=usage-panel]")
    assert panel.locator("table").count() == 0  # no table of zeros
    tenant_calls = report["billed"]["tenant"]["calls"]
    assert panel.locator("[data-testid=usage-tenant-note]").count() == (1 if tenant_calls else 0)
    panel.screenshot(path=str(artifacts / "ui-usage-offline-1280.png"))
    assert not ui.errors, ui.errors
