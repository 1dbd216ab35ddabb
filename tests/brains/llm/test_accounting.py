"""Tokens and cost per call, summed per agent, branch, scenario and tenant; `aegntix usage`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from aegntix.brains.accounting import usage_for
from aegntix.cli import app
from aegntix.engine import start_scenario
from aegntix.inject import inject
from aegntix.testing import FakeLLM, Reply
from aegntix.timeline import SqlStore, open_store
from tests.brains.llm.support import llm_scenario, run

FIXED = Reply(answer={"action": "say", "content": "Noted."}, tokens=(1000, 200))


def test_usage_sums_recorded_and_billed(store: SqlStore, fake: FakeLLM):
    fake.reset(lambda _: FIXED)  # every call: 1000 in, 200 out -> 0.5 + 0.3 = 0.8
    parent = start_scenario(store, llm_scenario(fake, steps=2))
    run(store, parent.id)
    report = usage_for(store, parent.id)
    seller = report["recorded"]["agents"]["seller"]
    assert seller == {
        "decisions": 2, "calls": 2, "tokens_in": 2000, "tokens_out": 400, "cost": 1.6,
        "fallbacks": 0, "reflections": 0,
    }  # fmt: skip
    assert report["recorded"]["total"]["cost"] == 4.8 == report["billed"]["branch"]["cost"]
    assert report["billed"]["agents"]["buyer"]["calls"] == 2
    assert report["billed"]["branch"]["calls"] == 6 == fake.count

    child = store.fork(parent.id, 1)  # no injection: cache hits, nothing billed
    run(store, child.id)
    forked = usage_for(store, child.id)
    assert forked["recorded"]["total"] == report["recorded"]["total"]
    assert forked["recorded"]["own"]["decisions"] == 3
    assert forked["billed"]["branch"] == {"calls": 0, "tokens_in": 0, "tokens_out": 0, "cost": 0.0}

    other = inject(store, parent.id, "Breaking news.", at_step=1, new_branch=True).branch
    run(store, other.id)  # step 2 sees the news: three new calls
    assert usage_for(store, other.id)["billed"]["branch"]["calls"] == 3
    totals = usage_for(store, parent.id)["billed"]
    assert totals["scenario"]["calls"] == 9 and totals["scenario"]["cost"] == 7.2
    assert totals["tenant"]["calls"] == 9


def test_the_cli_shows_usage(location: str, fake: FakeLLM):
    fake.reset(lambda _: FIXED)
    db = location
    with open_store(db) as store:
        branch = start_scenario(store, llm_scenario(fake, steps=1))
        run(store, branch.id)
    cli = CliRunner()
    out = cli.invoke(app, ["usage", branch.id[:6], "--db", str(db), "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["billed"]["branch"]["calls"] == 3 and report["recorded"]["total"]["cost"] == 2.4
    table = cli.invoke(app, ["usage", branch.id, "--db", str(db)])
    assert table.exit_code == 0 and "seller" in table.output and "2.4000" in table.output
    overview = cli.invoke(app, ["usage", "--db", str(db), "--json"])
    data = json.loads(overview.output)
    assert data["branches"][0]["calls"] == 3 and data["scenarios"][branch.scenario_id]["calls"] == 3
    plain = cli.invoke(app, ["usage", "--db", str(db)])
    assert plain.exit_code == 0 and branch.id in plain.output


def test_a_tenant_store_sees_its_own_usage_only(store: SqlStore, fake: FakeLLM):
    import pytest

    from aegntix.errors import BranchNotFound
    from aegntix.timeline.tenancy import TenantStore

    acme, globex = TenantStore(store, "acme"), TenantStore(store, "globex")
    branch = start_scenario(acme, llm_scenario(fake, steps=1))
    run(acme, branch.id)
    assert usage_for(acme, branch.id)["billed"]["tenant"]["calls"] == 3
    assert usage_for(acme, branch.id)["tenant_id"] == "acme"
    with pytest.raises(BranchNotFound):
        usage_for(globex, branch.id)
    mine = start_scenario(globex, llm_scenario(fake, steps=1))
    run(globex, mine.id)  # same prompts, other tenant: no shared cache
    assert fake.count == 6
    assert usage_for(globex, mine.id)["billed"]["tenant"]["calls"] == 3
