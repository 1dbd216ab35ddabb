"""Personalities and injections change outcomes — measurably, in the example scenarios."""

from __future__ import annotations

from aegntix.inject import inject
from aegntix.model.outcomes import compute_outcomes
from aegntix.timeline import SqlStore, compare, state_at
from tests.engine.helpers import edited, run, run_new, signature
from tests.support import example

BOULWARE = {
    "openness": 0.4,
    "conscientiousness": 0.9,
    "extraversion": 0.5,
    "agreeableness": 0.1,
    "neuroticism": 0.2,
}
CONCEDER = {
    "openness": 0.4,
    "conscientiousness": 0.2,
    "extraversion": 0.5,
    "agreeableness": 0.9,
    "neuroticism": 0.2,
}


def _final(store: SqlStore, branch_id: str, scenario) -> dict:
    return compute_outcomes(scenario, state_at(store, branch_id))


def test_boulware_seller_gets_a_higher_price_than_a_conceder(store: SqlStore):
    base = example("negotiation")
    prices = {}
    for name, persona in (("boulware", BOULWARE), ("conceder", CONCEDER)):
        scenario = edited(base, agents__seller__persona=persona)
        outcome = _final(store, run_new(store, scenario), scenario)
        assert outcome["deal_reached"], f"{name} seller reached no deal"
        prices[name] = outcome["price"]
    assert prices["boulware"] > prices["conceder"]
    assert 13500 <= prices["conceder"] <= 16500  # inside both reservation prices


def test_broadcast_injection_moves_debate_in_branch_not_parent(store: SqlStore):
    scenario = example("town-hall")
    parent = run_new(store, scenario)
    parent_events = signature(list(store.events(parent)))
    parent_mean = _final(store, parent, scenario)["mean_stance"]

    good_news = "An independent study finds the barrier is safe, saves homes and creates jobs."
    child = inject(store, parent, good_news, at_step=4, strategy="broadcast").branch
    run(store, child.id)
    child_mean = _final(store, child.id, scenario)["mean_stance"]

    assert child_mean > parent_mean + 0.05
    assert signature(list(store.events(parent))) == parent_events  # the parent is untouched
    result = compare(store, parent, child.id)
    assert result.divergence_step == 5  # the injection is read before step 5's agents decide
    assert result.outcome_deltas["mean_stance"] > 0.05


def test_bad_news_moves_the_debate_the_other_way(store: SqlStore):
    scenario = example("town-hall")
    parent = run_new(store, scenario)
    bad_news = "Engineers warn the barrier could fail and the cost will double, raising debt."
    child = inject(store, parent, bad_news, at_step=4).branch
    run(store, child.id)
    assert (
        _final(store, child.id, scenario)["mean_stance"]
        < _final(store, parent, scenario)["mean_stance"]
    )


def test_direct_injection_is_private_to_its_targets(store: SqlStore):
    scenario = example("negotiation")
    parent = run_new(store, scenario, 3)
    text = "Your lease runs out on Friday: you must have a van by then, deadline is urgent."
    child = inject(store, parent, text, targets=["buyer"], strategy="direct", at_step=2).branch
    run(store, child.id)
    run(store, parent)
    parent_out = _final(store, parent, scenario)
    child_out = _final(store, child.id, scenario)
    assert child_out["deal_reached"]
    assert child_out != parent_out


def test_world_changing_broadcast_changes_incident_outcome(store: SqlStore):
    scenario = example("incident-response")
    parent = run_new(store, scenario)
    child = inject(
        store,
        parent,
        "Threat intel: this group is known for a second wave within hours.",
        at_step=2,
        world={"severity": 0.95},
    ).branch
    run(store, child.id)
    a, b = _final(store, parent, scenario), _final(store, child.id, scenario)
    assert b["customer_impact"] > a["customer_impact"]
