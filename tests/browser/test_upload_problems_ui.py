"""The upload box lists every problem of a refused scenario (line, field, reason) and
creates nothing. Screenshot: ``artifacts/upload-problems.png``."""

from __future__ import annotations

from pathlib import Path

from tests.browser.support import Page
from tests.server.conftest import LiveServer

TYPOS = b"""\
name: Town meeting
termination: {max_steps: 5}
world: {budget: 1e6, attendance: 0}
agents:
  - id: mayor
    name: Mayor Ruiz
    role: chair
    goal: keep order
    stance: 1.5
  - id: mayor
    name: "Ada \\u202eevil"
    role: resident
dynamics:
  budget: "budget / 0"
colour: blue
"""


def test_upload_lists_every_problem(ui: Page, ui_server: LiveServer, artifacts: Path) -> None:
    page = ui.page
    api = ui_server.client(ui_server.owner_key)
    before = len(api.get("/v1/scenarios").json())
    page.goto(f"{ui_server.base_url}/#key={ui_server.owner_key}")
    page.locator("[data-testid=upload-input]").wait_for(state="attached")
    page.locator("[data-testid=upload-input]").set_input_files(
        {"name": "town-meeting.yaml", "mimeType": "application/yaml", "buffer": TYPOS}
    )
    problems = page.locator("[data-testid=upload-problem]")
    problems.first.wait_for()
    shown = [" ".join(t.split()) for t in problems.all_inner_texts()]
    assert shown == [
        "line 8 agents.0.goal unknown field (check the spelling; see `aegntix schema`)",
        "line 9 agents.0.stance Input should be less than or equal to 1 (got 1.5)",
        "line 10 agents.1.id agent ids must be unique; 'mayor' is also agents.0.id",
        "line 11 agents.1.name contains a bidirectional override (U+202E) at character 5; "
        "remove it (got 'Ada \\u202eevil')",
        "line 14 dynamics.budget division by zero: the divisor is always 0 (got 'budget / 0')",
        "line 15 colour unknown field (check the spelling; see `aegntix schema`)",
    ]
    head = page.locator("[data-testid=upload-error]").inner_text()
    assert "town-meeting.yaml has 6 problems" in head and "nothing was created" in head
    assert "\u202e" not in head
    page.locator("[data-testid=upload-error]").scroll_into_view_if_needed()
    box = page.locator("[data-testid=upload-error]").bounding_box()
    assert box is not None
    page.screenshot(
        path=str(artifacts / "upload-problems.png"),
        clip={"x": 0, "y": max(0, box["y"] - 140), "width": 1280, "height": box["height"] + 170},
    )
    assert len(api.get("/v1/scenarios").json()) == before
    assert not [e for e in ui.errors if "pageerror" in e], ui.errors
