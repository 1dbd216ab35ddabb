"""Persistent agents in the web UI: the start page's cards, the "New persistent agent" form,
and the profile view (#/agents/<id>).

A profile is made through the form (a bad id first: the server's field error shows beside the
id and nothing is created; then a taken id: 409), listed with its persona as bars (checked
against ``GET /v1/agents/{id}``), plays the buyer of a negotiation run from the UI, keeps a
fork's experience with the UI's button and a second scenario's over the API. The profile view
is then checked against the API: header, bars, one chart point per version, the versions, the
history, the memories page by page (newest first) and what the reflections cite. A viewer key
finds rename and delete off (the UI asks ``GET /v1/me``); the owner renames and deletes (after a
confirmation). Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.browser.support import NARROW, WIDE, Page
from tests.server.api_support import run_to_end
from tests.server.conftest import LiveServer
from tests.support import EXAMPLES

NAME = "Rae Okafor"
DESCRIPTION = "Runs a flower shop; needs a van that keeps the buckets upright."
CORE = {
    "openness": 0.7,
    "conscientiousness": 0.35,
    "extraversion": 0.55,
    "agreeableness": 0.65,
    "neuroticism": 0.45,
}
BIG_FIVE = list(CORE)
PAGE = 20  # memories per page in the profile view


def negotiation(profile_id: str, name: str) -> str:
    """The negotiation example with memory on (reflecting often) and the buyer ``profile_id``."""
    data = yaml.safe_load((EXAMPLES / "negotiation.yaml").read_text())
    data["name"] = name
    data["memory"] = {"enabled": True, "reflect_threshold": 10}
    data["termination"]["max_steps"] = 10
    for agent in data["agents"]:
        if agent["id"] == "buyer":
            agent["profile"] = profile_id
    return str(yaml.safe_dump(data, sort_keys=False))


def fmt_score(v: float) -> str:
    """As the UI prints a trait or a score: two decimals, three when the third matters."""
    three = f"{v:.3f}"
    return f"{v:.2f}" if three.endswith("0") else three


def profile_ids(api: httpx.Client) -> set[str]:
    return {p["id"] for p in api.get("/v1/agents").json()}


def all_memories(api: httpx.Client, profile_id: str) -> list[dict[str, Any]]:
    r = api.get(f"/v1/agents/{profile_id}/memories", params={"limit": 10_000})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["memories"])
    memories: list[dict[str, Any]] = body["memories"]
    return memories


def assert_bars(box: Any, profile: dict[str, Any]) -> None:
    """The bars in ``box`` are the profile's Big Five: core, current, adaptive, and drawn so
    (the fill ends at the current value, the tick stands at the core)."""
    bars = box.locator("[data-testid=trait-bar]")
    assert bars.evaluate_all("bs => bs.map(b => b.dataset.trait)") == BIG_FIVE
    persona = profile["persona"]
    for i, trait in enumerate(BIG_FIVE):
        bar = bars.nth(i)
        assert float(bar.get_attribute("data-core") or "nan") == persona[trait]
        assert float(bar.get_attribute("data-value") or "nan") == profile["traits"][trait]
        adaptive = trait in persona["adaptive"]
        assert bar.get_attribute("data-adaptive") == str(adaptive).lower()
        assert bar.locator("[data-testid=trait-adaptive]").count() == int(adaptive)
        drawn = bar.evaluate(
            """b => {
              const track = b.querySelector('.tb-track').getBoundingClientRect();
              const fill = b.querySelector('.tb-fill').getBoundingClientRect();
              const core = b.querySelector('.tb-core').getBoundingClientRect();
              return {fill: fill.width / track.width,
                      core: (core.left + core.width / 2 - track.left) / track.width};
            }"""
        )
        assert abs(drawn["fill"] - profile["traits"][trait]) < 0.02, (trait, drawn)
        assert abs(drawn["core"] - persona[trait]) < 0.02, (trait, drawn)


def no_sideways_scroll(ui: Page) -> bool:
    return bool(ui.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_persistent_agents_form_profile_and_roles(
    ui: Page, ui_server: LiveServer, artifacts: Path, browser: Any
) -> None:
    page = ui.page
    api = ui_server.client(ui_server.owner_key)
    profile_id = f"rae-{uuid.uuid4().hex[:8]}"  # ids are never reused on the shared server

    page.goto(f"{ui_server.base_url}/#key={ui_server.owner_key}")
    section = page.locator("[data-testid=agents-section]")
    section.wait_for()
    page.wait_for_function(
        "!document.querySelector('[data-testid=agent-list] .loading')"
    )  # the list is in
    before = profile_ids(api)
    assert section.locator("[data-testid=agent-card]").count() == len(before)

    # -- the form: the server's field error beside the id, nothing created
    section.locator("[data-testid=agent-new]").click()
    dialog = page.locator("[data-testid=agent-dialog]")
    assert dialog.is_visible()
    form = dialog.locator("[data-testid=agent-form]")
    form.locator("[data-testid=agent-id]").fill("9x")
    form.locator("[data-testid=agent-name]").fill(NAME)
    form.locator("[data-testid=agent-description]").fill(DESCRIPTION)
    for trait, value in CORE.items():
        form.locator(f"[data-testid=agent-trait-{trait}]").fill(str(value))
    form.locator("[data-testid=agent-adaptation-rate]").fill("0.2")
    form.locator("[data-testid=agent-stability-threshold]").fill("0.75")
    adaptive = [
        t for t in BIG_FIVE if form.locator(f"[data-testid=agent-adaptive-{t}]").is_checked()
    ]
    assert adaptive == ["openness", "agreeableness", "neuroticism"]  # the defaults
    with page.expect_response(
        lambda r: r.url.endswith("/v1/agents") and r.request.method == "POST"
    ) as answer:
        form.locator("[data-testid=agent-submit]").click()
    assert answer.value.status == 422
    problem = answer.value.json()
    (id_error,) = [e for e in problem["errors"] if e["field"] == "id"]
    shown = form.locator("[data-field=id] [data-testid=field-error-id]")
    shown.wait_for()
    assert shown.get_attribute("title") == id_error["reason"]  # the server's words, on hover
    assert shown.inner_text() == "“9x” is not a valid id: it must start with a letter."
    assert form.locator("[data-testid=agent-form-error]").is_visible()
    assert form.locator("[data-testid=field-error-name]").count() == 0  # the name was fine
    assert profile_ids(api) == before  # nothing was created
    page.wait_for_timeout(200)
    ui.shot(artifacts, "ui-agents-form-error-1280.png")

    # -- a good id: created with what the form said, and listed with its bars
    form.locator("[data-testid=agent-id]").fill(profile_id)
    form.locator("[data-testid=agent-submit]").click()
    dialog.wait_for(state="hidden")
    card = section.locator(f"[data-testid=agent-card][data-profile='{profile_id}']")
    card.wait_for()
    made = api.get(f"/v1/agents/{profile_id}").json()
    assert made["name"] == NAME and made["description"] == DESCRIPTION
    persona = made["persona"]
    assert {t: persona[t] for t in BIG_FIVE} == CORE
    assert persona["adaptive"] == adaptive
    assert persona["adaptation_rate"] == 0.2 and persona["stability_threshold"] == 0.75
    assert made["version"] == 0 and made["lived_steps"] == 0 and made["consistency"] == 1
    assert card.locator("[data-testid=agent-card-name]").inner_text() == NAME
    assert card.locator("[data-testid=agent-card-version]").get_attribute("data-value") == "0"
    assert card.get_attribute("href") == f"#/agents/{profile_id}"
    assert_bars(card, made)
    assert card.locator(".tb-drift").count() == 0  # no drift yet

    # -- the same id again: 409, said beside the id
    section.locator("[data-testid=agent-new]").click()
    form.locator("[data-testid=agent-id]").fill(profile_id)
    form.locator("[data-testid=agent-name]").fill("Someone else")
    form.locator("[data-testid=agent-submit]").click()
    taken = form.locator("[data-field=id] [data-testid=field-error-id][data-status='409']")
    taken.wait_for()
    assert f"“{profile_id}” is taken" in taken.inner_text()
    assert form.locator("[data-testid=agent-form-error]").is_hidden()
    form.locator("[data-testid=agent-cancel]").click()
    dialog.wait_for(state="hidden")
    assert api.get(f"/v1/agents/{profile_id}").json()["name"] == NAME

    # -- a scenario with it as the buyer, run from the UI; a fork whose experience it keeps
    r = api.post(
        "/v1/scenarios",
        content=negotiation(profile_id, "Flower van sale (Rae)"),
        headers={"content-type": "application/yaml"},
    )
    assert r.status_code == 201, r.text
    first = r.json()["root_branch"]["id"]
    first_scenario = r.json()["scenario"]["id"]
    page.goto(f"{ui_server.base_url}/#/b/{first}")
    page.locator("[data-testid=run]").click()
    ui.wait_done()
    r = api.post(
        f"/v1/branches/{first}/fork",
        json={
            "at_step": 3,
            "label": "pressed",
            "injection": {
                "content": "Take it or leave it: final offer, decide now.",
                "strategy": "direct",
                "targets": ["buyer"],
            },
        },
    )
    assert r.status_code in (200, 201), r.text
    fork = r.json()["id"]
    run_to_end(api, fork)
    page.goto(f"{ui_server.base_url}/#/b/{fork}")
    page.locator("[data-testid=keep-experience]").click()
    page.locator("[data-testid=keep-result][data-state=ok]").wait_for()
    assert api.get(f"/v1/agents/{profile_id}").json()["version"] == 1

    # -- a second scenario: it starts from v1; kept over the API
    r = api.post(
        "/v1/scenarios",
        content=negotiation(profile_id, "Second flower van (Rae returns)"),
        headers={"content-type": "application/yaml"},
    )
    assert r.status_code == 201, r.text
    second = r.json()["root_branch"]["id"]
    run_to_end(api, second)
    r = api.post(f"/v1/branches/{second}/commit")
    assert r.status_code == 201, r.text

    # -- the badge in the Agents card opens the profile
    page.goto(f"{ui_server.base_url}/#/b/{second}")
    badge = page.locator("[data-testid=agent-buyer] [data-testid=persistent-badge]")
    assert badge.inner_text().strip() == "persistent · v1"
    assert badge.get_attribute("href") == f"#/agents/{profile_id}"
    badge.click()
    view = page.locator(f"[data-testid=profile-view][data-profile='{profile_id}']")
    view.wait_for()
    assert page.url.endswith(f"#/agents/{profile_id}")
    detail = api.get(f"/v1/agents/{profile_id}").json()
    versions, history = detail["versions"], detail["history"]
    assert detail["version"] == 2 and [v["version"] for v in versions] == [0, 1, 2]

    # header
    assert page.locator("[data-testid=profile-name]").inner_text() == NAME
    assert page.locator("[data-testid=profile-description]").inner_text() == DESCRIPTION
    shown_version = page.locator("[data-testid=profile-version]")
    assert shown_version.get_attribute("data-value") == "2"
    assert "v2" in shown_version.inner_text()
    lived = page.locator("[data-testid=profile-lived]")
    assert lived.get_attribute("data-value") == str(detail["lived_steps"])
    assert str(detail["lived_steps"]) in lived.inner_text()
    consistency = page.locator("[data-testid=profile-consistency]")
    assert float(consistency.get_attribute("data-value") or "nan") == detail["consistency"]
    assert consistency.get_attribute("data-threshold") == "0.75"
    assert fmt_score(detail["consistency"]) in consistency.inner_text()
    assert "stability threshold 0.75" in consistency.inner_text()
    assert detail["consistency"] < 1  # it drifted

    # persona: bars against the API, and one chart point per version for each adaptive trait
    assert_bars(page.locator("[data-testid=profile-persona]"), detail)
    charts = page.locator("[data-testid=trait-chart]")
    assert charts.evaluate_all("cs => cs.map(c => c.dataset.trait)") == adaptive
    for trait in adaptive:
        points = page.locator(
            f"[data-testid=trait-chart][data-trait={trait}] [data-testid=trait-point]"
        )
        assert points.count() == len(versions)
        assert points.evaluate_all("ps => ps.map(p => Number(p.dataset.version))") == [0, 1, 2]
        assert points.evaluate_all("ps => ps.map(p => Number(p.dataset.value))") == [
            v["traits"][trait] for v in versions
        ]
    consistency_points = page.locator("[data-testid=consistency-chart] [data-testid=trait-point]")
    assert consistency_points.count() == len(versions)
    values = consistency_points.evaluate_all("ps => ps.map(p => Number(p.dataset.value))")
    assert values[0] == 1 and abs(values[-1] - detail["consistency"]) < 1e-4

    # versions: each kept branch, linked, with the memories it kept
    rows = page.locator("[data-testid=version-row]")
    assert rows.evaluate_all("rs => rs.map(r => Number(r.dataset.version))") == [0, 1, 2]
    assert rows.evaluate_all("rs => rs.map(r => Number(r.dataset.memories))") == [
        v["memories"] for v in versions
    ]
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.branch)") == [
        v["branch_id"] or "" for v in versions
    ]
    assert [v["branch_id"] for v in versions] == [None, fork, second]
    for i, v in enumerate(versions):
        shown_memories = rows.nth(i).locator("[data-testid=version-memories]").inner_text()
        assert shown_memories == f"{v['memories']} memories kept"
        link = rows.nth(i).locator("[data-testid=version-branch]")
        if v["branch_id"]:
            assert link.get_attribute("href") == f"#/b/{v['branch_id']}"
        else:
            assert link.count() == 0
    assert rows.nth(1).locator("[data-testid=version-branch]").inner_text() == "pressed"

    # history: the scenarios, their branches, the kept one marked
    parts = page.locator("[data-testid=history-row]")
    assert parts.evaluate_all("rs => rs.map(r => r.dataset.scenario)") == [
        h["scenario_id"] for h in history
    ]
    assert history[0]["scenario_id"] == first_scenario
    assert parts.locator("[data-testid=history-scenario]").all_inner_texts() == [
        h["scenario"] for h in history
    ]
    for i, part in enumerate(history):
        branches = parts.nth(i).locator("[data-testid=history-branch]")
        assert branches.evaluate_all("bs => bs.map(b => b.dataset.branch)") == [
            b["id"] for b in part["branches"]
        ]
        assert branches.evaluate_all("bs => bs.map(b => b.dataset.kept)") == [
            str(b["id"] == part["kept_branch"]).lower() for b in part["branches"]
        ]
        kept = parts.nth(i).locator("[data-testid=history-branch][data-kept=true]")
        assert kept.get_attribute("href") == f"#/b/{part['kept_branch']}"
        assert f"kept · v{i + 1}" in kept.inner_text()
    assert history[0]["kept_branch"] == fork and len(history[0]["branches"]) == 2

    # memories: newest first, a page at a time, as the API has them
    kept = all_memories(api, profile_id)
    assert len(kept) == sum(v["memories"] for v in versions) > 2 * PAGE
    newest = kept[::-1]
    memory_list = page.locator("[data-testid=profile-memory-list][data-state=ready]")
    memory_list.wait_for()
    total = page.locator("[data-testid=memories-total]")
    assert total.get_attribute("data-value") == str(len(kept))
    assert_memory_page(page, newest[:PAGE])
    assert page.locator("[data-testid=memories-range]").inner_text() == f"1–{PAGE} of {len(kept)}"
    assert page.locator("[data-testid=memories-newer]").is_disabled()
    page.locator("[data-testid=memories-older]").click()
    page.locator("[data-testid=profile-memory-list][data-page='1'][data-state=ready]").wait_for()
    assert_memory_page(page, newest[PAGE : 2 * PAGE])
    # only what v1 kept
    v1_newest = [m for m in newest if m["ref"].startswith("p1.")]
    page.locator("[data-testid=memories-version]").select_option("1")
    page.locator("[data-testid=profile-memory-list][data-page='0'][data-state=ready]").wait_for()
    page.wait_for_function(
        "ref => document.querySelector('[data-testid=profile-memory]')?.dataset.ref === ref",
        arg=v1_newest[0]["ref"],
    )
    assert_memory_page(page, v1_newest[:PAGE])
    page.locator("[data-testid=memories-version]").select_option("")
    page.wait_for_function(
        "ref => document.querySelector('[data-testid=profile-memory]')?.dataset.ref === ref",
        arg=newest[0]["ref"],
    )
    # what a reflection rests on, in words (cited memories off the page are fetched)
    by_ref = {m["ref"]: m for m in kept}
    cited = [m for m in newest[:PAGE] if m["kind"] == "reflection" and m["cites"]]
    assert cited, "a reflection on the first page cites memories"
    for m in cited:
        row = page.locator(f"[data-testid=profile-memory][data-ref='{m['ref']}']")
        cites = row.locator("[data-testid=profile-memory-cite]")
        assert cites.evaluate_all("cs => cs.map(c => c.dataset.ref)") == m["cites"]
        page.wait_for_function(
            "ref => ![...document.querySelectorAll(`[data-testid=profile-memory][data-ref='${ref}']"
            " .pmem-cite-text`)].some(t => t.textContent === '…')",
            arg=m["ref"],
        )
        assert cites.locator(".pmem-cite-text").all_inner_texts() == [
            by_ref[c]["text"] for c in m["cites"]
        ]

    page.evaluate("window.scrollTo(0, 0)")
    ui.shot(artifacts, "ui-agents-profile-1280.png")
    ui.shot(artifacts, "ui-agents-profile-1280-full.png", full=True)

    # -- the start page: the card now shows the drift
    page.goto(f"{ui_server.base_url}/#/agents")
    card.wait_for()
    assert card.locator("[data-testid=agent-card-version]").get_attribute("data-value") == "2"
    assert card.locator("[data-testid=agent-card-lived]").get_attribute("data-value") == str(
        detail["lived_steps"]
    )
    assert (
        float(
            card.locator("[data-testid=agent-card-consistency]").get_attribute("data-value")
            or "nan"
        )
        == detail["consistency"]
    )
    assert_bars(card, detail)
    assert (
        card.locator(".tb-drift").count()
        == sum(1 for t in BIG_FIVE if abs(detail["traits"][t] - CORE[t]) >= 0.0005)
        > 0
    )
    section.scroll_into_view_if_needed()
    ui.shot(artifacts, "ui-agents-home-1280.png")

    # -- 400 px wide: the cards, the form and the profile stack; nothing scrolls sideways
    page.set_viewport_size(NARROW)
    page.wait_for_timeout(100)
    card.scroll_into_view_if_needed()
    assert no_sideways_scroll(ui)
    ui.shot(artifacts, "ui-agents-home-400.png")
    section.locator("[data-testid=agent-new]").click()
    form.locator("[data-testid=agent-id]").fill("7up")
    form.locator("[data-testid=agent-submit]").click()
    form.locator("[data-field=id] [data-testid=field-error-id]").wait_for()
    ui.shot(artifacts, "ui-agents-form-400.png")
    form.locator("[data-testid=agent-cancel]").click()
    page.goto(f"{ui_server.base_url}/#/agents/{profile_id}")
    page.locator("[data-testid=profile-memory-list][data-state=ready]").wait_for()
    assert no_sideways_scroll(ui)
    ui.shot(artifacts, "ui-agents-profile-400.png")
    ui.shot(artifacts, "ui-agents-profile-400-full.png", full=True)
    page.set_viewport_size(WIDE)

    # -- a viewer may look but not change: the buttons are off from the start (GET /v1/me)
    viewer_key = ui_server.make_key("default", "viewer")
    context = browser.new_context(viewport=WIDE, device_scale_factor=1)
    try:
        viewer = Page(context.new_page(), ui_server.base_url)
        viewer.page.set_default_timeout(15_000)
        viewer.page.goto(f"{ui_server.base_url}/#key={viewer_key}")
        viewer.page.locator("[data-testid=agents-section]").wait_for()
        viewer.page.goto(f"{ui_server.base_url}/#/agents/{profile_id}")
        viewer.page.locator("[data-testid=profile-view]").wait_for()
        rename = viewer.page.locator("[data-testid=profile-rename]")
        assert rename.is_disabled()
        assert "read-only (viewer)" in (rename.get_attribute("title") or "")
        assert viewer.page.locator("[data-testid=profile-delete]").is_disabled()
        note = viewer.page.locator("[data-testid=profile-readonly]")
        assert note.is_visible() and "viewer" in note.inner_text()
        viewer.shot(artifacts, "ui-agents-readonly-1280.png")
        # nor "New persistent agent" on the start page
        viewer.page.goto(f"{ui_server.base_url}/#/")
        assert viewer.page.locator("[data-testid=agent-new]").is_disabled()
        assert viewer.foreign_requests() == []
        assert viewer.errors == [], viewer.errors  # nothing was refused
    finally:
        context.close()
    assert api.get(f"/v1/agents/{profile_id}").json()["name"] == NAME

    # -- the owner renames it, then deletes it (after saying no once)
    page.goto(f"{ui_server.base_url}/#/agents/{profile_id}")
    page.locator("[data-testid=profile-rename]").click()
    page.locator("[data-testid=profile-edit-name]").fill("Rae O.")
    page.locator("[data-testid=profile-edit-save]").click()
    page.locator("[data-testid=profile-name]", has_text="Rae O.").wait_for()
    assert api.get(f"/v1/agents/{profile_id}").json()["name"] == "Rae O."
    delete = page.locator("[data-testid=profile-delete]")
    delete.click()
    confirm = page.locator("[data-testid=confirm-dialog]")
    confirm.wait_for()
    assert "Delete “Rae O.”?" in confirm.inner_text() and profile_id in confirm.inner_text()
    page.wait_for_timeout(200)
    ui.shot(artifacts, "ui-agents-delete-confirm-1280.png")
    confirm.locator("[data-testid=confirm-cancel]").click()
    confirm.wait_for(state="hidden")
    assert api.get(f"/v1/agents/{profile_id}").status_code == 200
    delete.click()
    confirm.locator("[data-testid=confirm-ok]").click()
    page.wait_for_function("location.hash === '#/agents'")
    section.wait_for()
    page.wait_for_function("!document.querySelector('[data-testid=agent-list] .loading')")
    assert card.count() == 0
    assert api.get(f"/v1/agents/{profile_id}").status_code == 404
    assert profile_id not in profile_ids(api)

    assert ui.foreign_requests() == []
    # the browser logs the refused create (422) and the taken id (409) as failed loads
    unexpected = [e for e in ui.errors if "status of 422" not in e and "status of 409" not in e]
    assert unexpected == [], ui.errors


def assert_memory_page(page: Any, expected: list[dict[str, Any]]) -> None:
    """The memories shown are ``expected`` (refs, texts, kinds, tiers, importance), in order."""
    rows = page.locator("[data-testid=profile-memory]")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.ref)") == [m["ref"] for m in expected]
    assert rows.locator("[data-testid=profile-memory-text]").all_inner_texts() == [
        m["text"] for m in expected
    ]
    assert rows.locator("[data-testid=profile-memory-kind]").all_inner_texts() == [
        m["kind"] for m in expected
    ]
    tiers = rows.locator("[data-testid=profile-memory-tier]").evaluate_all(
        "ts => ts.map(t => t.textContent)"
    )
    assert tiers == [m["tier"] for m in expected]
    assert rows.evaluate_all("rs => rs.map(r => Number(r.dataset.importance))") == [
        m["importance"] for m in expected
    ]
