"""The HTML report opened from disk in Chromium: it renders with no script and no request
beyond the file itself, no chart label spills out of its chart, and a full-page screenshot
lands in ``artifacts/report.png`` (look at it); printed, the folded member tables show."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import EXAMPLES

INJECTION = "The river flooded the car park. <script>alert(1)</script>"

#: For every <svg>: its text elements whose box leaves the chart's box (clipped labels).
SPILLS = """
() => [...document.querySelectorAll('svg')].flatMap(svg => {
  const box = svg.getBoundingClientRect();
  return [...svg.querySelectorAll('text')].filter(t => {
    const b = t.getBoundingClientRect();  // after transforms (the rotated axis labels)
    return b.left < box.left - 0.5 || b.top < box.top - 0.5 ||
           b.right > box.right + 0.5 || b.bottom > box.bottom + 0.5;
  }).map(t => svg.querySelector('title').textContent + ': ' + t.textContent);
})
"""


def aegntix(*args: object) -> list[Any]:
    """The real command in a subprocess (Playwright's loop owns this thread's asyncio)."""
    done = subprocess.run(
        [sys.executable, "-m", "aegntix", *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    db = folder / "r.db"
    parent = aegntix("run", EXAMPLES / "town-hall.yaml", "--steps", 3, "--db", db, "--json")
    made = aegntix(
        "rollouts", parent[0]["branch_id"], "--at", 2, "--n", 8, "--inject", INJECTION,
        "--stance", 0.9, "--db", db, "--json",
    )[-1]  # fmt: skip
    out = folder / "report.html"
    aegntix("report", made["id"], "--out", out, "--db", db, "--json")
    return out


def test_report_renders_offline_and_nothing_spills(
    report: Path, browser: Any, artifacts: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 1000, "height": 900}, java_script_enabled=False
    )
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(report.as_uri())
        assert requests == [report.as_uri()]  # no font, image, stylesheet or script fetched
        sentence = page.locator(".sentence").first
        assert sentence.is_visible() and "with the intervention vs" in sentence.inner_text()
        assert page.locator("[data-testid=injection]").inner_text() == INJECTION
        assert page.locator("svg").count() == 7
        # the members table is folded away until asked for
        assert not page.locator("table.members").first.is_visible()
        page.locator("details.members summary").first.click()
        assert page.locator("table.members").first.is_visible()
        page.screenshot(path=str(artifacts / "report.png"), full_page=True)
    finally:
        context.close()

    scripted = browser.new_context(viewport={"width": 1000, "height": 900})
    try:
        page = scripted.new_page()
        page.goto(report.as_uri())
        assert page.evaluate(SPILLS) == []
        widths = page.evaluate(
            "[...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().right)"
        )
        assert max(widths) <= page.evaluate("document.body.getBoundingClientRect().right") + 1
        page.emulate_media(media="print")  # printed, the folded members tables print too
        assert page.locator("table.members").first.is_visible()
    finally:
        scripted.close()
