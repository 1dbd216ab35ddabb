"""The web UI knows what its key may do (``GET /v1/me``) and offers only that.

An owner key of tenant ``acme`` sets the stage over the API: a persistent agent, a negotiation
with that agent as the buyer (memory on), run to the end, a fork that ran and a fork that did
not. A viewer key of the same tenant then sees its role and tenant in the header and no
enabled write control on the start page, the branch view or the profile view; clicking a step
does not open the fork dialog; *why?* and compare still work. An editor key gets the write
controls but no delete. Neither key's pages get a single 403. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.browser.support import WIDE, Page
from tests.server.api_support import all_events, run_to_end
from tests.server.conftest import LiveServer
from tests.support import EXAMPLES

TENANT = "acme"
READ_ONLY = "your key is read-only (viewer)"

# Controls a key that may only read may still use, by data-testid (or class, for those
# without one). Anything else on the page that is enabled and visible is a write control.
READ_CONTROLS = {
    "sign-out",
    "scenario-item",
    "compare-with",
    "compare-open",
    "toggle-world",
    "why-toggle",
    "memory-reflection",
    "jump-latest",
    "keep-dismiss",
    "memories-version",
    "memories-newer",
    "memories-older",
    "toast-close",
    "network-slider",  # who heard what at a past step (docs/web-ui.md, Network)
    "network-latest",
    "network-reach-row",
}


@dataclass
class Stage:
    profile_id: str
    root_id: str
    fork_id: str  # forked after step 3 with an injection, and run
    idle_id: str  # forked after step 2, never run


@pytest.fixture(scope="module")
def stage(ui_server: LiveServer) -> Iterator[Stage]:
    api = ui_server.client(ui_server.make_key(TENANT, "owner"))
    profile_id = f"noor-{uuid.uuid4().hex[:8]}"  # ids are never reused on the shared server
    r = api.post(
        "/v1/agents",
        json={"id": profile_id, "name": "Noor Haddad", "description": "Runs a florist's."},
    )
    assert r.status_code == 201, r.text
    data = yaml.safe_load((EXAMPLES / "negotiation.yaml").read_text())
    data["name"] = "Van for the florist (roles)"
    data["memory"] = {"enabled": True, "reflect_threshold": 10}
    data["termination"]["max_steps"] = 8
    for agent in data["agents"]:
        if agent["id"] == "buyer":
            agent["profile"] = profile_id
    r = api.post(
        "/v1/scenarios",
        content=yaml.safe_dump(data, sort_keys=False),
        headers={"Content-Type": "application/yaml"},
    )
    assert r.status_code == 201, r.text
    root_id = r.json()["root_branch"]["id"]
    run_to_end(api, root_id)
    r = api.post(
        f"/v1/branches/{root_id}/fork",
        json={
            "at_step": 3,
            "label": "lease-ends",
            "injection": {"content": "The shop's lease ends on Friday.", "strategy": "broadcast"},
        },
    )
    assert r.status_code == 201, r.text
    fork_id = r.json()["id"]
    run_to_end(api, fork_id)
    r = api.post(f"/v1/branches/{root_id}/fork", json={"at_step": 2, "label": "untried"})
    assert r.status_code == 201, r.text
    yield Stage(profile_id, root_id, fork_id, r.json()["id"])
    api.close()


class Session:
    """A browser context signed in with one key, recording every answer of 400 and up."""

    def __init__(self, browser: Any, server: LiveServer, key: str) -> None:
        self.context = browser.new_context(viewport=WIDE, device_scale_factor=1)
        self.ui = Page(self.context.new_page(), server.base_url)
        self.page = self.ui.page
        self.page.set_default_timeout(15_000)
        self.base_url = server.base_url
        self.failed: list[str] = []
        self.page.on(
            "response",
            lambda r: (
                self.failed.append(f"{r.status} {r.request.method} {r.url}")
                if r.status >= 400
                else None
            ),
        )
        self.page.goto(f"{server.base_url}/#key={key}")

    def go(self, fragment: str) -> None:
        self.page.goto(f"{self.base_url}/{fragment}")

    def enabled_controls(self) -> list[str]:
        """Every visible control that is not disabled: its data-testid (or first class)."""
        names: list[str] = self.page.evaluate(
            """() => [...document.querySelectorAll('button, input, select, textarea')]
                 .filter((el) => !el.disabled && el.getClientRects().length
                                && !el.closest('[hidden], dialog:not([open])'))
                 .map((el) => el.dataset.testid || el.className || el.tagName)"""
        )
        return names

    def write_controls(self) -> set[str]:
        """Enabled controls that are not known read controls (a step head counts as one)."""
        return {
            n
            for n in self.enabled_controls()
            if n not in READ_CONTROLS and not n.startswith("why-")
        }

    def close(self) -> None:
        self.context.close()


def assert_denied(locator: Any, reason: str) -> None:
    assert locator.is_disabled()
    assert reason in (locator.get_attribute("title") or "").lower()


def test_viewer_sees_read_only_ui(
    browser: Any, ui_server: LiveServer, stage: Stage, artifacts: Path
) -> None:
    api = ui_server.client(ui_server.make_key(TENANT, "owner"))
    s = Session(browser, ui_server, ui_server.make_key(TENANT, "viewer"))
    page = s.page
    try:
        # -- start page: the role in the header, nothing to create
        who = page.locator("[data-testid=whoami]")
        who.wait_for()
        assert who.inner_text().split() == ["viewer", "·", TENANT]
        assert who.get_attribute("data-role") == "viewer"
        page.locator("[data-testid=scenario-item]").first.wait_for()
        page.locator("[data-testid^=example-start-]").first.wait_for()
        page.locator("[data-testid=agent-card]").first.wait_for()
        starts = page.locator("[data-testid^=example-start-]")
        for i in range(starts.count()):
            assert_denied(starts.nth(i), READ_ONLY)
        assert_denied(page.locator("[data-testid=upload-input]"), READ_ONLY)
        assert READ_ONLY in page.locator("[data-testid=upload]").inner_text().lower()
        assert_denied(page.locator("[data-testid=agent-new]"), READ_ONLY)
        assert READ_ONLY in page.locator("[data-testid=home-readonly]").inner_text().lower()
        assert s.write_controls() == set(), s.enabled_controls()
        s.ui.shot(artifacts, "ui-viewer-home-1280.png", full=True)

        # -- the branch view: no run, step, keep or fork; browsing and why? work
        s.go(f"#/b/{stage.root_id}")
        page.locator("[data-testid=branch-status][data-status=done]").wait_for()
        page.locator("[data-testid=step-head-3]").wait_for()
        page.locator("[data-testid=keep-status]").first.wait_for()
        for testid in ("run", "pause", "step", "keep-experience"):
            assert_denied(page.locator(f"[data-testid={testid}]"), READ_ONLY)
        assert page.locator("[data-testid=fork-hint]").inner_text() == "Read-only: forking is off"
        heads = page.locator("[data-testid^=step-head-]")
        assert heads.count() >= 4
        assert heads.evaluate_all("hs => hs.every((h) => h.disabled)")
        assert s.write_controls() == set(), s.enabled_controls()
        page.locator("[data-testid=step-head-3]").click(force=True)
        page.wait_for_timeout(300)
        assert not page.locator("[data-testid=fork-dialog]").evaluate("d => d.open")
        assert page.locator("[data-testid=fork-form]").count() == 0

        message = next(
            e
            for e in all_events(api, stage.root_id)
            if e["kind"] == "message" and e["agent_id"] == "buyer" and e["step"] >= 2
        )
        toggle = page.locator(f"[data-testid=why-toggle][data-seq='{message['seq']}']")
        toggle.scroll_into_view_if_needed()
        toggle.click()
        panel = page.locator(f"[data-testid=why-panel][data-seq='{message['seq']}']")
        page.locator(
            f"[data-testid=why-panel][data-seq='{message['seq']}'][data-state=ready]"
        ).wait_for()
        assert panel.locator("[data-testid=why-item]").count() > 0
        page.wait_for_timeout(200)
        s.ui.shot(artifacts, "ui-viewer-1280.png")

        # -- the idle fork: Run and Step would be allowed by its status, not by the key
        s.go(f"#/b/{stage.idle_id}")
        page.locator(f"[data-testid=branch-view][data-branch-id='{stage.idle_id}']").wait_for()
        page.locator("[data-testid=branch-status][data-status=idle]").wait_for()
        for testid in ("run", "step"):
            assert_denied(page.locator(f"[data-testid={testid}]"), READ_ONLY)
        assert s.write_controls() == set(), s.enabled_controls()

        # -- compare: the root against the fork that ran
        s.go(f"#/b/{stage.root_id}")
        page.locator(f"[data-testid=compare-with] option[value='{stage.fork_id}']").wait_for(
            state="attached"
        )
        page.locator("[data-testid=compare-with]").select_option(stage.fork_id)
        page.locator("[data-testid=compare-open]").click()
        page.wait_for_url(f"**/#/compare/{stage.root_id}/{stage.fork_id}")
        step = page.locator("[data-testid=divergence-step]")
        step.wait_for()
        assert step.inner_text().strip()
        page.locator("[data-testid=chart-card]").first.wait_for()
        assert s.write_controls() <= {"compare-swap", "open-a", "open-b"}, s.enabled_controls()

        # -- the profile: no rename, no delete, a note that says why
        s.go(f"#/agents/{stage.profile_id}")
        page.locator("[data-testid=profile-view]").wait_for()
        page.locator("[data-testid=profile-memory-list][data-state=ready]").wait_for()
        assert_denied(page.locator("[data-testid=profile-rename]"), READ_ONLY)
        assert_denied(page.locator("[data-testid=profile-delete]"), READ_ONLY)
        note = page.locator("[data-testid=profile-readonly]")
        assert note.is_visible() and READ_ONLY in note.inner_text().lower()
        assert s.write_controls() == set(), s.enabled_controls()
        s.ui.shot(artifacts, "ui-viewer-profile-1280.png")

        assert s.failed == [], s.failed  # not one 403 (nor any other failure)
        assert s.ui.foreign_requests() == []
        assert s.ui.errors == [], s.ui.errors
    finally:
        s.close()
        api.close()


def test_editor_may_write_but_not_delete(
    browser: Any, ui_server: LiveServer, stage: Stage, artifacts: Path
) -> None:
    s = Session(browser, ui_server, ui_server.make_key(TENANT, "editor"))
    page = s.page
    no_delete = "your key may not delete (editor)"
    try:
        who = page.locator("[data-testid=whoami]")
        who.wait_for()
        assert who.inner_text().split() == ["editor", "·", TENANT]
        page.locator("[data-testid^=example-start-]").first.wait_for()
        starts = page.locator("[data-testid^=example-start-]")
        for i in range(starts.count()):
            assert starts.nth(i).is_enabled()
        assert page.locator("[data-testid=upload-input]").is_enabled()
        assert page.locator("[data-testid=agent-new]").is_enabled()
        assert page.locator("[data-testid=home-readonly]").is_hidden()

        # an idle branch: Run and Step on, a step opens the fork dialog
        s.go(f"#/b/{stage.idle_id}")
        page.locator(f"[data-testid=branch-view][data-branch-id='{stage.idle_id}']").wait_for()
        page.locator("[data-testid=branch-status][data-status=idle]").wait_for()
        page.locator("[data-testid=step-head-2]").wait_for()
        assert page.locator("[data-testid=run]").is_enabled()
        assert page.locator("[data-testid=step]").is_enabled()
        assert page.locator("[data-testid=pause]").get_attribute("data-denied") is None
        assert page.locator("[data-testid=keep-experience]").is_enabled()
        assert page.locator("[data-testid=fork-hint]").inner_text() == "Click a step to fork there"
        page.locator("[data-testid=step-head-2]").click()
        dialog = page.locator("[data-testid=fork-dialog]")
        dialog.wait_for()
        assert dialog.evaluate("d => d.open")
        page.keyboard.press("Escape")
        dialog.wait_for(state="hidden")

        # the profile: rename yes, delete no
        s.go(f"#/agents/{stage.profile_id}")
        page.locator("[data-testid=profile-view]").wait_for()
        assert page.locator("[data-testid=profile-rename]").is_enabled()
        assert_denied(page.locator("[data-testid=profile-delete]"), no_delete)
        assert not page.locator("[data-testid=profile-readonly]").is_visible()
        s.ui.shot(artifacts, "ui-editor-profile-1280.png")

        assert s.failed == [], s.failed
        assert s.ui.errors == [], s.ui.errors
    finally:
        s.close()


def test_a_refusal_turns_the_controls_off(
    browser: Any, ui_server: LiveServer, stage: Stage
) -> None:
    """If the UI was told more than the key may (its role changed since /v1/me), the server's
    403 turns the controls off and the header shows the role the server now reports."""
    context = browser.new_context(viewport=WIDE, device_scale_factor=1)
    stale = {"tenant_id": TENANT, "role": "editor", "key_id": "stale", "can": ["read", "write"]}
    answered: list[str] = []

    def me(route: Any) -> None:
        if not answered:  # the first answer is out of date; later ones are the server's
            answered.append("stale")
            route.fulfill(status=200, json=stale)
        else:
            answered.append("server")
            route.continue_()

    context.route("**/v1/me", me)
    try:
        ui = Page(context.new_page(), ui_server.base_url)
        page = ui.page
        page.set_default_timeout(15_000)
        page.goto(f"{ui_server.base_url}/#key={ui_server.make_key(TENANT, 'viewer')}")
        page.locator("[data-testid=whoami][data-role=editor]").wait_for()
        page.goto(f"{ui_server.base_url}/#/b/{stage.idle_id}")
        page.locator("[data-testid=branch-status][data-status=idle]").wait_for()
        page.locator("[data-testid=step-head-2]").wait_for()
        step = page.locator("[data-testid=step]")
        assert step.is_enabled()
        with page.expect_response(lambda r: r.url.endswith("/step")) as answer:
            step.click()
        assert answer.value.status == 403
        page.locator("[data-testid=toast-error]").wait_for()
        page.locator("[data-testid=whoami][data-role=viewer]").wait_for()
        assert answered == ["stale", "server"]
        for testid in ("run", "step"):
            assert_denied(page.locator(f"[data-testid={testid}]"), READ_ONLY)
        assert page.locator("[data-testid=step-head-2]").is_disabled()
        assert page.locator("[data-testid=fork-hint]").inner_text() == "Read-only: forking is off"
        assert [e for e in ui.errors if "status of 403" not in e] == [], ui.errors
    finally:
        context.close()
