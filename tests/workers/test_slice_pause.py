"""A pause that lands while a slice builds its runner stops the slice before its first step.
Without it a short run (the town hall's 12 steps take less than one intent-read interval on
a worker) finished to ``done`` after the API had answered ``pausing``."""

from __future__ import annotations

import asyncio

import structlog

from aegntix.engine import start_scenario
from aegntix.model.events import BranchStatus
from aegntix.model.loading import load_scenario
from aegntix.timeline import SqlStore
from aegntix.timeline.tenancy import TenantStore
from aegntix.workers.intents import Want
from aegntix.workers.queue import QueueSettings, make_app
from aegntix.workers.slices import _advance, new_context
from tests.support import EXAMPLES


def test_a_pause_before_the_first_step_runs_no_step(pg_url: str, pg_store: SqlStore) -> None:
    branch = start_scenario(pg_store, load_scenario(EXAMPLES / "town-hall.yaml"))
    settings = QueueSettings()
    ctx = new_context(pg_store, make_app(pg_url, settings), settings)
    started = ctx.intents.begin(branch.id, None)  # what the slice read when it began
    assert ctx.intents.ask(branch.id, Want.PAUSE) is not None  # the user's pause, just after
    scoped = TenantStore(pg_store, branch.tenant_id)
    kwargs = {"branch_id": branch.id, "tenant_id": branch.tenant_id, "token": started.token}

    outcome = asyncio.run(_advance(ctx, scoped, started, kwargs, structlog.get_logger()))

    assert outcome == BranchStatus.PAUSED.value
    after = pg_store.get_branch(branch.id)
    assert (after.head_seq, after.status) == (branch.head_seq, BranchStatus.PAUSED)
    assert ctx.intents.read(branch.id) is None  # settled
