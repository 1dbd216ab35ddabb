"""Memory in the web UI: "why?" beside what an agent said, reflections and persona drift as
quiet lines, and a persistent agent keeping a branch's experience.

The negotiation runs with memory on (reflecting often) and its buyer played by a persistent
agent made over the API; the seller's persona is strict, so some of its drifts are refused.
What the UI lists for "why?" is checked against ``GET /v1/branches/{id}/events/{seq}/why``;
keeping the experience against ``GET /v1/agents/{id}``. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.browser.support import NARROW, WIDE, Page
from tests.server.api_support import all_events, run_to_end
from tests.server.conftest import LiveServer
from tests.support import EXAMPLES

BUYER = "Dana Whitfield"
PARTS = ("recency", "importance", "relevance")
SCALE = 3.0  # the default weights: a perfect memory (1 + 1 + 1) fills the bar


def memory_negotiation(profile_id: str) -> str:
    """The negotiation example with memory on and the buyer a persistent agent (YAML)."""
    data = yaml.safe_load((EXAMPLES / "negotiation.yaml").read_text())
    data["name"] = "Delivery van sale (with memory)"
    data["memory"] = {"enabled": True, "reflect_threshold": 10}
    data["termination"]["max_steps"] = 10
    for agent in data["agents"]:
        if agent["id"] == "buyer":
            agent["profile"] = profile_id
        if agent["id"] == "seller":  # a stubborn seller: drifts past 0.99 are refused
            agent["persona"]["stability_threshold"] = 0.99
    return str(yaml.safe_dump(data, sort_keys=False))


def fmt_score(v: float) -> str:
    """As the UI prints a trait or a score: two decimals, three when the third matters."""
    three = f"{v:.3f}"
    return f"{v:.2f}" if three.endswith("0") else three


def drift_words(record: dict[str, Any]) -> str:
    """The quiet line's words for an adaptation record."""
    if not record["applied"]:
        return (
            f"drift refused: consistency would fall to {fmt_score(record['consistency'])}"
            f" < {fmt_score(record['threshold'])}"
        )
    moved = ", ".join(
        f"{k} {fmt_score(record['from'][k])}→{fmt_score(v)}"
        for k, v in record["to"].items()
        if v != record["from"][k]
    )
    return f"persona drifted: {moved} (consistency {fmt_score(record['consistency'])})"


def notes_expected(events: list[dict[str, Any]]) -> tuple[list[int], list[int], list[int]]:
    """Seqs of the memory events with a reflection, with an adaptation, and with either."""
    reflections, adaptations, either = [], [], []
    for e in events:
        if e["kind"] != "memory":
            continue
        p = e["payload"]
        has_reflection = any(m["kind"] == "reflection" for m in p["formed"])
        if has_reflection:
            reflections.append(e["seq"])
        if p.get("adaptation"):
            adaptations.append(e["seq"])
        if has_reflection or p.get("adaptation"):
            either.append(e["seq"])
    return reflections, adaptations, either


def test_why_reflections_and_keeping_experience(
    ui: Page, ui_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    page = ui.page
    api = ui_server.client(ui_server.owner_key)
    profile_id = f"dana-{uuid.uuid4().hex[:8]}"  # ids are never reused on the shared server
    made = api.post(
        "/v1/agents",
        json={"id": profile_id, "name": BUYER, "persona": {"agreeableness": 0.6, "openness": 0.6}},
    )
    assert made.status_code == 201, made.text

    # -- upload the scenario from the start page and run it from the UI
    page.goto(f"{ui_server.base_url}/#key={ui_server.owner_key}")
    page.locator("[data-testid=examples]").wait_for()
    scenario_file = tmp_path / "van-with-memory.yaml"
    scenario_file.write_text(memory_negotiation(profile_id))
    page.locator("[data-testid=upload-input]").set_input_files(str(scenario_file))
    page.locator("[data-testid=branch-view]").wait_for()
    branch_id = ui.branch_id()
    badge = page.locator("[data-testid=agent-buyer] [data-testid=persistent-badge]")
    assert badge.inner_text().strip() == "persistent · v0"
    assert badge.get_attribute("data-profile") == profile_id
    assert page.locator("[data-testid=persistent-badge]").count() == 1
    assert page.locator("[data-testid=keep-status]").get_attribute("data-kept-branch") == ""
    page.locator("[data-testid=run]").click()
    ui.wait_done()
    events = all_events(api, branch_id)
    last_row = max(e["seq"] for e in events if e["kind"] in ("message", "action", "world"))
    page.locator(f"[data-testid=event][data-seq='{last_row}']").wait_for(state="attached")

    # -- memory events: nothing, except reflections and adaptations as quiet lines
    reflections, adaptations, either = notes_expected(events)
    assert reflections and adaptations
    notes = page.locator("[data-testid=memory-note]")
    assert [int(s) for s in notes.evaluate_all("ns => ns.map(n => n.dataset.seq)")] == either
    assert page.locator("[data-testid=event][data-kind=memory]").count() == 0
    assert page.locator("[data-testid=memory-reflection]").count() == len(reflections)
    first_reflection = next(e for e in events if e["seq"] == reflections[0])
    insights = [
        m["text"] for m in first_reflection["payload"]["formed"] if m["kind"] == "reflection"
    ]
    line = page.locator(f"[data-testid=memory-note][data-seq='{reflections[0]}']")
    summary = line.locator("[data-testid=memory-reflection] summary")
    assert "reflection" in summary.inner_text() and insights[0] in summary.inner_text()
    assert not line.locator("[data-testid=memory-insight]").first.is_visible()
    summary.click()
    assert line.locator("[data-testid=memory-insight]").all_inner_texts() == insights
    drifts = page.locator("[data-testid=memory-adaptation]")
    assert drifts.count() == len(adaptations)
    for seq in adaptations:
        record = next(e for e in events if e["seq"] == seq)["payload"]["adaptation"]
        shown_line = page.locator(f"[data-testid=memory-note][data-seq='{seq}']").inner_text()
        assert drift_words(record) in shown_line, (shown_line, record)
    records = {seq: next(e for e in events if e["seq"] == seq) for seq in adaptations}
    refusals = [s for s, e in records.items() if not e["payload"]["adaptation"]["applied"]]
    assert refusals, "the seller's 0.99 threshold refuses some drift"
    refused = page.locator("[data-testid=memory-adaptation][data-applied=false]")
    assert refused.count() == len(refusals)
    assert "Sam Ortega" in refused.first.inner_text()
    assert "drift refused: consistency would fall to" in refused.first.inner_text()
    # adaptations are state changes too: their world events follow the toggle
    adaptation_world = [
        e["seq"] for e in events if e["kind"] == "world" and e["payload"]["cause"] == "adaptation"
    ]
    world_row = page.locator(f"[data-testid=event][data-seq='{adaptation_world[0]}']")
    assert world_row.get_attribute("data-kind") == "world" and not world_row.is_visible()
    page.locator("[data-testid=toggle-world]").check()
    assert world_row.is_visible() and ".traits = " in world_row.inner_text()
    page.locator("[data-testid=toggle-world]").uncheck()
    # the Agents card: how far the buyer drifted from where it started, its consistency now
    last_buyer = [
        e["payload"]["adaptation"]
        for e in events
        if e["kind"] == "memory"
        and e["agent_id"] == "buyer"
        and e["payload"].get("adaptation", {}).get("applied")
    ][-1]
    card = page.locator("[data-testid=agent-buyer] [data-testid=agent-drift]").text_content()
    assert f"openness 0.60→{fmt_score(last_buyer['to']['openness'])}" in (card or "")
    assert f"consistency {fmt_score(last_buyer['consistency'])}" in (card or "")

    # -- "why?" on a buyer's message (step >= 2, one that recalls a reflection): lazily
    # fetched, and exactly what the why endpoint says, best first
    assert page.locator("[data-testid=why-toggle]").count() == sum(
        1 for e in events if e["kind"] in ("message", "action")
    )
    assert not [u for u in ui.requests if "/why" in u]  # nothing fetched before a click
    said = [
        e for e in events if e["kind"] == "message" and e["agent_id"] == "buyer" and e["step"] >= 2
    ]
    answers = {e["seq"]: why(api, branch_id, e["seq"]) for e in said}
    seq = next(
        (s for s, a in answers.items() if any(r["memory"]["tier"] == "semantic" for r in a)),
        said[0]["seq"],
    )
    panel = open_why(ui, seq)
    recalled = answers[seq]
    assert len(recalled) >= 2 and {r["memory"]["tier"] for r in recalled} >= {"semantic"}
    assert_why(panel, recalled)
    ui.shot(artifacts, "ui-memory-why-1280.png")
    panel.screenshot(path=str(artifacts / "ui-memory-why-panel-1280.png"))
    # closing and opening again does not fetch again (cached per seq)
    toggle = page.locator(f"[data-testid=why-toggle][data-seq='{seq}']")
    toggle.click()
    assert panel.is_hidden()
    toggle.click()
    assert panel.is_visible()
    assert len([u for u in ui.requests if u.endswith(f"/events/{seq}/why")]) == 1
    # the first message of all: nothing to recall yet, said plainly
    opening = next(e for e in events if e["kind"] == "message")
    assert why(api, branch_id, opening["seq"]) == []
    open_why(ui, opening["seq"]).locator("[data-testid=why-empty]").wait_for()

    # -- keep this branch's experience; a second time is a conflict, explained
    keep = page.locator("[data-testid=keep-experience]")
    assert keep.is_enabled()
    keep.click()
    result = page.locator("[data-testid=keep-result]")
    page.locator("[data-testid=keep-result][data-state=ok]").wait_for()
    detail = api.get(f"/v1/agents/{profile_id}").json()
    assert detail["version"] == 1
    (part,) = detail["history"]
    assert part["kept_branch"] == branch_id
    assert detail["versions"][-1]["branch_id"] == branch_id
    kept = detail["versions"][-1]
    assert result.locator("[data-testid=keep-detail]").inner_text() == (
        f"{BUYER} is now v1: {kept['memories']} memories from this branch,"
        f" {kept['lived_steps']} steps lived."
    )
    page.wait_for_function(
        "id => document.querySelector('[data-testid=keep-status]')?.dataset.keptBranch === id",
        arg=branch_id,
    )
    assert "keeps this branch (v1)" in page.locator("[data-testid=keep-status]").inner_text()
    page.wait_for_timeout(300)  # the banner's entrance
    ui.shot(artifacts, "ui-memory-keep-1280.png")
    page.locator("[data-testid=agents-panel]").screenshot(
        path=str(artifacts / "ui-memory-agents-1280.png")
    )
    keep.click()
    page.locator("[data-testid=keep-result][data-state=conflict]").wait_for()
    conflict = api.post(f"/v1/branches/{branch_id}/commit")
    assert conflict.status_code == 409
    assert "Already kept" in result.inner_text()
    server = conflict.json()["detail"]
    assert branch_id in server and f"'{profile_id}'" in server
    assert result.locator("[data-testid=keep-detail]").inner_text() == server.replace(
        f"branch {branch_id}", "this branch"
    ).replace(f"'{profile_id}'", BUYER)
    assert api.get(f"/v1/agents/{profile_id}").json()["version"] == 1  # nothing more was kept
    page.wait_for_timeout(300)
    page.locator("[data-testid=branch-toolbar]").screenshot(
        path=str(artifacts / "ui-memory-keep-conflict-1280.png")
    )
    page.locator("[data-testid=keep-dismiss]").click()
    assert result.is_hidden()

    # -- 400 px wide: the why panel stacks, nothing scrolls sideways
    page.set_viewport_size(NARROW)
    page.reload()
    page.locator("[data-testid=keep-status][data-kept-branch]").first.wait_for()
    page.locator(f"[data-testid=why-toggle][data-seq='{seq}']").wait_for()
    ui.shot(artifacts, "ui-memory-main-400.png")
    panel = open_why(ui, seq)
    assert_why(panel, recalled)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    ui.shot(artifacts, "ui-memory-why-400.png")
    page.locator("[data-testid=agents-panel]").scroll_into_view_if_needed()
    ui.shot(artifacts, "ui-memory-agents-400.png")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    # -- the next scenario: the buyer starts from v1 and recalls what it kept (long-term)
    page.set_viewport_size(WIDE)
    r = api.post(
        "/v1/scenarios",
        content=memory_negotiation(profile_id),
        headers={"content-type": "application/yaml"},
    )
    assert r.status_code == 201, r.text
    second = r.json()["root_branch"]["id"]
    run_to_end(api, second, steps=2)
    page.goto(f"{ui_server.base_url}/#/b/{second}")
    badge = page.locator("[data-testid=agent-buyer] [data-testid=persistent-badge]")
    assert badge.inner_text().strip() == "persistent · v1"
    assert page.locator("[data-testid=keep-status]").get_attribute("data-kept-branch") == ""
    first = next(
        e for e in all_events(api, second) if e["kind"] == "message" and e["agent_id"] == "buyer"
    )
    recalled = why(api, second, first["seq"])
    assert recalled and {r["memory"]["tier"] for r in recalled} >= {"long-term"}
    panel = open_why(ui, first["seq"])
    assert_why(panel, recalled)
    ui.shot(artifacts, "ui-memory-why-longterm-1280.png")

    # -- compare: after the split, each side says why in its own timeline
    r = api.post(
        f"/v1/branches/{branch_id}/fork",
        json={
            "at_step": 3,
            "label": "lease-ends",
            "injection": {"content": "The bakery's lease ends on Friday.", "strategy": "broadcast"},
        },
    )
    assert r.status_code in (200, 201), r.text
    fork_id = r.json()["id"]
    run_to_end(api, fork_id)
    page.goto(f"{ui_server.base_url}/#/compare/{branch_id}/{fork_id}")
    side = page.locator("[data-testid=compare-transcript-b]")
    side.locator("[data-testid=why-toggle]").first.wait_for()
    assert side.locator("[data-testid=event][data-kind=memory]").count() == 0
    later = next(
        e
        for e in all_events(api, fork_id)
        if e["kind"] == "message" and e["agent_id"] == "buyer" and e["step"] > 3
    )
    side.locator(f"[data-testid=why-toggle][data-seq='{later['seq']}']").click()
    side_panel = side.locator(f"[data-testid=why-panel][data-seq='{later['seq']}']")
    side.locator(f"[data-testid=why-panel][data-seq='{later['seq']}'][data-state=ready]").wait_for()
    assert_why(side_panel, why(api, fork_id, later["seq"]))

    assert ui.foreign_requests() == []
    # the browser logs the refused second keep (409) as a failed load; nothing else
    unexpected = [e for e in ui.errors if "status of 409" not in e]
    assert unexpected == [], ui.errors


def why(api: httpx.Client, branch_id: str, seq: int) -> list[dict[str, Any]]:
    r = api.get(f"/v1/branches/{branch_id}/events/{seq}/why")
    assert r.status_code == 200, r.text
    recalled: list[dict[str, Any]] = r.json()["recalled"]
    return recalled


def open_why(ui: Page, seq: int) -> Any:
    """Clicks "why?" beside event ``seq``; its panel, once loaded and in view."""
    toggle = ui.page.locator(f"[data-testid=why-toggle][data-seq='{seq}']")
    toggle.scroll_into_view_if_needed()
    toggle.click()
    ui.page.locator(f"[data-testid=why-panel][data-seq='{seq}'][data-state=ready]").wait_for()
    panel = ui.page.locator(f"[data-testid=why-panel][data-seq='{seq}']")
    # the message on top of the transcript (under the sticky step header), its panel below
    panel.evaluate(
        """p => {
          const row = p.closest('.ev');
          const box = row.closest('.transcript');
          if (!box) return p.scrollIntoView({block: 'center'});
          box.scrollTop += row.getBoundingClientRect().top - box.getBoundingClientRect().top - 44;
        }"""
    )
    return panel


def assert_why(panel: Any, recalled: list[dict[str, Any]]) -> None:
    """The panel lists ``recalled`` (the why endpoint's answer): texts, order, tiers, scores,
    and each score's bar split into its three parts on the scale of a perfect memory."""
    scores = [r["score"] for r in recalled]
    assert scores == sorted(scores, reverse=True)  # the endpoint's order is best first
    items = panel.locator("[data-testid=why-item]")
    assert items.locator("[data-testid=why-text]").all_inner_texts() == [
        r["memory"]["text"] for r in recalled
    ]
    assert items.evaluate_all("xs => xs.map(x => x.dataset.ref)") == [r["ref"] for r in recalled]
    tiers = items.locator("[data-testid=why-tier]").evaluate_all("ts => ts.map(t => t.textContent)")
    assert tiers == [r["memory"]["tier"] for r in recalled]
    assert items.evaluate_all("xs => xs.map(x => Number(x.dataset.score))") == scores
    for i, r in enumerate(recalled):
        bar = items.nth(i).locator(".score-bar")
        title = bar.get_attribute("title") or ""
        assert title.startswith(f"score {fmt_score(r['score'])} = recency "), title
        full = bar.evaluate("b => b.getBoundingClientRect().width")
        for part in PARTS:
            seg = bar.locator(f"[data-part={part}]")
            assert float(seg.get_attribute("data-value") or "nan") == r[part]
            width = seg.evaluate("s => s.getBoundingClientRect().width")
            assert abs(width - max(0.0, r[part]) / SCALE * full) < 1.0, (part, width)
