"""The injection strategies behind one protocol: validation (field named, choices listed),
the gradual plan (a growing share, deterministic from the seed), who hears which event."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aegntix.errors import InvalidRequest
from aegntix.inject.base import Spread
from aegntix.inject.kinds import MAX_SPREAD_STEPS
from aegntix.inject.preview import preview
from aegntix.inject.registry import STRATEGIES, hearing, meta, strategy_named
from aegntix.inject.strategies import validated
from tests.support import example

TOWN = example("town-hall")
IDS = sorted(a.id for a in TOWN.agents)


def _payload(strategy: str, **kw: object) -> dict:
    payload, _ = validated(
        TOWN,
        "The barrier will save the town.",
        kw.pop("targets", None),  # type: ignore[arg-type]
        strategy,
        None,
        kw.pop("world", None),  # type: ignore[arg-type]
        0.5,
        schedule=kw.pop("schedule", None),  # type: ignore[arg-type]
    )
    return payload


def test_the_registry_holds_each_strategy_once() -> None:
    assert list(STRATEGIES) == ["direct", "broadcast", "gradual", "organic"]
    listed = meta()
    assert [s["name"] for s in listed] == list(STRATEGIES)
    gradual = next(s for s in listed if s["name"] == "gradual")
    assert {p["name"] for p in gradual["parameters"]} == {"targets", "schedule"}
    assert all(s["description"] for s in listed)


def test_an_unknown_strategy_names_the_field_and_lists_the_choices() -> None:
    with pytest.raises(
        InvalidRequest,
        match=r"^strategy: 'viral' is not one of direct, broadcast, gradual, organic$",
    ):
        strategy_named("viral")
    with pytest.raises(InvalidRequest, match=r"^strategy: 'rumour'"):
        _payload("rumour")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({}, "^schedule: a gradual injection needs a schedule"),
        ({"schedule": {"steps": 0}}, "^schedule.steps: must be a whole number from 1 to"),
        ({"schedule": {"steps": MAX_SPREAD_STEPS + 1}}, "^schedule.steps:"),
        ({"schedule": {"steps": True}}, "^schedule.steps:"),
        ({"schedule": {"steps": 2, "waves": []}}, "^schedule: a gradual injection needs"),
        ({"schedule": {"waves": []}}, "^schedule.waves: a list of 1 to"),
        (
            {
                "schedule": {
                    "waves": [{"offset": 1, "agents": ["mayor"]}, {"offset": 1, "agents": ["shop"]}]
                }
            },
            r"^schedule.waves.1.offset: whole numbers rising",
        ),
        (
            {"schedule": {"waves": [{"offset": 0, "agents": ["nobody"]}]}},
            r"^schedule.waves.0.agents: nobody not among the agents",
        ),
        (
            {"schedule": {"waves": [{"offset": 0, "agents": ["shop"]}]}, "targets": ["mayor"]},
            r"^schedule.waves.0.agents: shop not among the targets",
        ),
        (
            {
                "schedule": {
                    "waves": [{"offset": 0, "agents": ["shop"]}, {"offset": 2, "agents": ["shop"]}]
                }
            },
            r"^schedule.waves.1.agents: shop already in an earlier wave",
        ),
        ({"schedule": {"steps": 2}, "world": {"barrier_built": True}}, "^world: only a broadcast"),
    ],
)
def test_a_bad_gradual_schedule_names_its_field(kw: dict, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        _payload("gradual", **kw)


def test_only_gradual_takes_a_schedule_and_direct_needs_targets() -> None:
    for name in ("direct", "broadcast"):
        with pytest.raises(
            InvalidRequest,
            match=f"^schedule: only a gradual injection takes a schedule, not {name}$",
        ):
            _payload(name, schedule={"steps": 2}, targets=["mayor"])
    with pytest.raises(InvalidRequest, match=r"^targets: a direct injection needs"):
        _payload("direct")


def test_direct_and_broadcast_record_the_payload_they_always_recorded() -> None:
    """Old timelines keep their hashes: no new keys for the strategies that existed."""
    spread = Spread(TOWN, 7, 3)
    for name, targets in (("direct", ["mayor"]), ("broadcast", None)):
        payload = _payload(name, targets=targets)
        assert set(payload) == {"content", "strategy", "targets", "urgency", "fields"}
        assert strategy_named(name).record(payload, spread) == payload
    assert hearing({"strategy": "direct", "targets": ["mayor"]}, 1).agents == {"mayor"}
    assert hearing({"strategy": "broadcast", "targets": None}, 1).agents is None
    assert hearing({"content": "from an old timeline"}, 1).agents is None  # no strategy: broadcast


@given(
    seed=st.integers(0, 2**63 - 1),
    step=st.integers(1, 500),
    k=st.integers(1, MAX_SPREAD_STEPS),
    size=st.integers(1, len(IDS)),
)
def test_a_gradual_spread_reaches_a_growing_share_once_each(
    seed: int, step: int, k: int, size: int
) -> None:
    targets = IDS[:size]
    gradual = strategy_named("gradual")
    payload = _payload("gradual", targets=targets, schedule={"steps": k})
    waves = gradual.plan(payload, Spread(TOWN, seed, step))
    assert waves == gradual.plan(payload, Spread(TOWN, seed, step))  # deterministic
    heard = [a for w in waves for a in w.agents or ()]
    assert sorted(heard) == sorted(targets)  # everyone targeted, exactly once
    offsets = [w.offset for w in waves]
    assert offsets == sorted(set(offsets)) and all(0 <= o < k for o in offsets)
    for w in waves:  # after wave at offset i, ceil(n (i+1) / k) have heard it
        so_far = sum(len(x.agents or ()) for x in waves if x.offset <= w.offset)
        assert so_far == -(-size * (w.offset + 1) // k)


def test_the_order_of_a_spread_follows_the_branch_seed() -> None:
    gradual = strategy_named("gradual")
    payload = _payload("gradual", schedule={"steps": len(IDS)})
    orders = {tuple(w.agents for w in gradual.plan(payload, Spread(TOWN, s, 4))) for s in range(8)}
    assert len(orders) > 1


def test_materialized_waves_are_heard_by_their_agents_only() -> None:
    gradual = strategy_named("gradual")
    schedule = {
        "waves": [{"offset": 0, "agents": ["mayor"]}, {"offset": 2, "agents": ["shop", "retiree"]}]
    }
    recorded = gradual.record(_payload("gradual", schedule=schedule), Spread(TOWN, 1, 5))
    assert hearing(recorded, 5).agents == {"mayor"}
    assert gradual.span(recorded) == 2
    assert gradual.due(recorded, 40, 5, 6) == []
    (wave,) = gradual.due(recorded, 40, 5, 7)
    assert wave["wave"] == {"of": 40, "offset": 2} and wave["targets"] == ["retiree", "shop"]
    assert hearing(wave, 7).agents == {"retiree", "shop"} and not hearing(wave, 7).private
    assert gradual.span(wave) == 0 and gradual.due(wave, 41, 7, 8) == []


def test_the_preview_says_who_hears_it_when() -> None:
    found = preview(
        TOWN,
        "The barrier will save the town.",
        strategy="gradual",
        schedule={"steps": 3},
        seed=11,
        step=5,
    )
    steps = [at for at, _ in found.schedule]
    assert steps == [5, 6, 7]
    assert sorted(a for _, agents in found.schedule for a in agents) == IDS
    assert {a.agent_id: a.step for a in found.agents} == {
        a: at for at, agents in found.schedule for a in agents
    }
    body = found.json()
    assert body["strategy"] == "gradual" and body["schedule"][0]["step"] == 5
    direct = preview(TOWN, "psst", strategy="direct", targets=["mayor"], step=2)
    assert direct.schedule == [(2, ["mayor"])] and [a.agent_id for a in direct.agents] == ["mayor"]
