"""Run intents on both backends: one wanted run per branch, "run N steps" fixed once as an
absolute step, settling only the run of its own token."""

from __future__ import annotations

import pytest

from aegntix.engine import start_scenario
from aegntix.errors import BranchBusy, BranchNotFound
from aegntix.model.loading import load_scenario
from aegntix.timeline import SqlStore
from aegntix.workers.intents import RunIntents, Want
from tests.support import EXAMPLES


@pytest.fixture
def branch(store_on_both: SqlStore) -> str:
    return start_scenario(store_on_both, load_scenario(EXAMPLES / "negotiation.yaml")).id


def test_one_wanted_run_per_branch(store_on_both: SqlStore, branch: str) -> None:
    intents = RunIntents(store_on_both)
    first = intents.begin(branch, None)
    with pytest.raises(BranchBusy):
        intents.begin(branch, 3)
    assert intents.read(branch) == first
    paused = intents.ask(branch, Want.PAUSE)
    assert paused is not None and paused.want is Want.PAUSE
    assert intents.ask(branch, Want.CANCEL) is None  # nothing wants to run any more
    again = intents.begin(branch, 2)  # a pause not yet settled is replaced by a new start
    assert again.token != first.token and again.steps == 2
    intents.settle(branch, first.token)  # the old run's settling leaves the new one
    assert intents.read(branch) == again
    intents.settle(branch, again.token)
    assert intents.read(branch) is None
    with pytest.raises(BranchNotFound):
        intents.begin("no-such-branch", None)


def test_steps_become_an_absolute_step_once(store_on_both: SqlStore, branch: str) -> None:
    intents = RunIntents(store_on_both)
    intent = intents.begin(branch, 3)
    fixed = intents.fix_until(intent, 4)
    assert fixed.until_step == 7
    # a slice retried after a crash, further along, finds it fixed: no extra steps
    assert intents.fix_until(intent, 6).until_step == 7
    intents.settle(branch, intent.token)
    endless = intents.begin(branch, None)
    assert intents.fix_until(endless, 4).until_step is None  # to the end
