"""A set its driver cannot fork fails and says why, in the database: the API of every
replica reads the reason (a worker drives it; before, the reason was only in the worker's
log and the set read ``running`` until someone looked there)."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import update

from aegntix.analysis.driving import driven, orphaned, queue_sets
from aegntix.analysis.records import SetStatus
from aegntix.analysis.rollouts import create_set, repository
from aegntix.engine import start_scenario
from aegntix.model.loading import load_scenario
from aegntix.timeline import SqlStore
from aegntix.timeline.schema import rollout_sets
from aegntix.timeline.tenancy import TenantStore
from aegntix.workers.drivers import SetDrivers
from aegntix.workers.queue import QueueSettings, make_app
from tests.support import EXAMPLES


def test_a_set_whose_members_cannot_be_forked_fails_saying_why(
    pg_url: str, pg_store: SqlStore
) -> None:
    branch = start_scenario(pg_store, load_scenario(EXAMPLES / "town-hall.yaml"))
    scoped = TenantStore(pg_store, branch.tenant_id)
    made = create_set(scoped, branch.id, 0, 2, fork=False)
    # an injection that no longer validates (a set recorded by another version, say)
    broken = {"content": "The bridge is closed.", "strategy": "telepathy"}
    pg_store.write(
        lambda c: c.execute(
            update(rollout_sets)
            .where(rollout_sets.c.id == made.id)
            .values(injection=json.dumps(broken))
        )
    )
    queue_sets(pg_store, [made.id], branch.tenant_id)
    settings = QueueSettings()

    async def drive() -> int:
        app = make_app(pg_url, settings)
        async with app.open_async():
            drivers = SetDrivers(pg_store, app, settings)
            taken = await drivers.adopt()
            await asyncio.gather(*set(drivers.tasks.values()))
            return taken

    assert asyncio.run(drive()) == 1
    failed = repository(scoped).get(made.id)
    assert failed.status is SetStatus.FAILED
    assert failed.error is not None and "telepathy" in failed.error
    assert failed.as_json()["error"] == failed.error  # what the API and the CLI show
    assert orphaned(pg_store) == [] and driven(pg_store, [made.id]) == set()  # not re-adopted
