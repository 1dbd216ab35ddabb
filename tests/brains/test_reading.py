"""Reading injections: direction from the declared arguments (semantic embedder) with the
word lists as fallback; accuracy on the labelled set; determinism; the mechanics use it."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys

from aegntix.brains.rules import RulesBrain, reading
from aegntix.brains.rules.lexicon import valence
from aegntix.model.scenario import Scenario
from tests.brains.builders import make_event, make_observation
from tests.support import ROOT, example

FLOOD = (
    "Breaking news: the river rose two metres overnight and flooded the car park; "
    "the insurer says the barrier would have prevented it"
)
CCTV = "CCTV footage shows the defendant 200 km away at the time"
#: The reading model must beat this on benchmarks/data/injections.yaml (measured: 0.833).
ACCURACY_FLOOR = 0.75


def _stance_after(scenario: Scenario, agent_id: str, text: str) -> float:
    """The agent's stance after hearing ``text`` as news in its step (rules brain)."""
    agent = scenario.agent(agent_id)
    observation = dataclasses.replace(
        make_observation(agent, [a for a in scenario.agents if a.id != agent_id], step=5),
        visible=(make_event(5, text),),
        arguments=scenario.arguments_for(agent),
    )
    decision = RulesBrain().decide_now(observation, random.Random(1))
    assert decision.stance is not None
    return decision.stance


def _bench() -> dict:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "injection_reading.py"), "--quick"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    line: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return line


def test_the_reading_model_beats_the_floor_and_the_word_lists_on_the_labelled_set():
    result = _bench()
    overall = result["accuracy"]["all"]
    assert overall["n"] >= 60
    print(f"embedder {result['embedder']}: {overall}")
    assert overall["reading"] >= ACCURACY_FLOOR, result
    assert overall["reading"] >= overall["lexicon"] + 0.3, result


def test_plain_news_moves_stances_in_the_expected_direction():
    town, jury = example("town-hall"), example("jury")
    retiree = town.agent("retiree").stance
    assert retiree is not None and _stance_after(town, "retiree", FLOOD) > retiree + 0.1
    banker = jury.agent("banker").stance
    assert banker is not None and _stance_after(jury, "banker", CCTV) < banker - 0.1
    # irrelevant news leaves the stance where the social rules alone put it
    quiet = _stance_after(town, "retiree", "The library opens late on Thursdays.")
    assert abs(quiet - _stance_after(town, "retiree", "")) < 0.02


def test_a_reading_has_a_direction_strength_relevance_and_a_reason():
    town = example("town-hall")
    agent = town.agent("engineer")
    found = reading.read(FLOOD, agent, town.arguments, "opinion")
    assert found.direction > 0.5 and found.strength == abs(found.direction)
    assert 0.5 < found.relevance <= 1.0 and found.effective
    assert found.reason.startswith("closest to pro argument: '")
    off = reading.read("The local football team won the cup.", agent, town.arguments, "opinion")
    assert not off.effective and off.relevance < found.relevance


def test_without_arguments_the_word_lists_decide_exactly_as_before():
    agent = example("town-hall").agent("mayor")
    for text in ("A study finds the barrier is safe.", "Costs will overrun.", "Hello there."):
        found = reading.read(text, agent, None, "opinion")
        assert found.direction == round(valence(text), 4) and found.salience == 1.0
    push = reading.read("anything", agent, None, "opinion", {"stance": -0.4})
    assert (push.direction, push.source) == (-0.4, "stance")


def test_a_negotiators_reading_depends_on_its_side():
    van = example("negotiation")
    rival = "The dealer down the road has the same van for 14,000."
    seller = reading.read(rival, van.agent("seller"), van.agent("seller").arguments, "negotiation")
    buyer = reading.read(rival, van.agent("buyer"), van.agent("buyer").arguments, "negotiation")
    assert seller.direction < 0 < buyer.direction  # pressure on one is leverage for the other


def test_the_same_text_reads_the_same_in_another_process():
    town = example("town-hall")
    here = reading.read(FLOOD, town.agent("shop"), town.arguments, "opinion").json()
    code = (
        "import json, sys; from aegntix.brains.rules import reading; "
        "from tests.support import example; t = example('town-hall'); "
        "print(json.dumps(reading.read(sys.argv[1], t.agent('shop'), t.arguments, 'opinion')"
        ".json()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, FLOOD], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == here


def test_escalating_news_weighs_more_on_a_responders_moves_than_easing_news():
    from aegntix.brains.rules.incident import scores

    drill = example("incident-response")
    agent = drill.agent("security")
    actions = {name: drill.actions[name] for name in agent.actions}

    def isolate_score(text: str) -> float:
        observation = dataclasses.replace(
            make_observation(agent, step=3, world=drill.world, actions=actions),
            visible=(make_event(3, text),),
            arguments=drill.arguments,
        )
        return scores(observation)["isolate_hosts"]

    worse = isolate_score(
        "Isolate the hosts: the attack is spreading to more systems by the minute."
    )
    easing = isolate_score(
        "Isolate the hosts if you like; it was a false alarm and nothing spread."
    )
    assert worse > easing
    # a text close in meaning to an action calls for it without its keywords
    legal = drill.agent("legal")
    watchdog = "The watchdog phoned asking when our breach report will be filed."
    plain = dataclasses.replace(
        make_observation(
            legal, step=3, world=drill.world, actions={n: drill.actions[n] for n in legal.actions}
        ),
        visible=(make_event(3, watchdog),),
        arguments=drill.arguments,
    )
    without = dataclasses.replace(plain, arguments=None)
    assert scores(plain)["notify_regulator"] > scores(without)["notify_regulator"]
