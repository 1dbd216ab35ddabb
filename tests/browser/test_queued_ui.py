"""A run started on PostgreSQL while no worker process is alive is ``queued``: the branch view
says why it waits and what to start, lets Pause withdraw it, and goes on by itself once a
worker runs. Real ``aegntix serve`` and ``aegntix worker`` processes. Saves
``artifacts/ui-queued-no-worker-1280.png``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import WIDE, Page
from tests.workers.support import Cluster, cluster_of, new_town_hall


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    yield from cluster_of(pg_url, tmp_path)


#: Bounds waits only (a loaded machine starts processes slowly); nothing asserts speed.
WAIT_MS = 120_000


def _status_is(page: Any, status: str) -> None:
    page.wait_for_function(
        f"document.querySelector('[data-testid=branch-status]')?.dataset.status === '{status}'",
        timeout=WAIT_MS,
    )


def test_a_queued_run_says_it_waits_for_a_worker(
    browser: Any, cluster: Cluster, artifacts: Path
) -> None:
    replica = cluster.serve()
    with replica.client() as api:
        branch = new_town_hall(api)

    context = browser.new_context(viewport=WIDE, device_scale_factor=1)
    ui = Page(context.new_page(), replica.base_url)
    page = ui.page
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{replica.base_url}/#key={replica.key}")
        page.goto(f"{replica.base_url}/#/b/{branch}")
        banner = page.locator("[data-testid=branch-queued]")
        assert banner.is_hidden()  # idle: nothing to explain

        page.locator("[data-testid=run]").click()
        _status_is(page, "queued")
        banner.wait_for(state="visible")
        text = banner.inner_text()
        assert "Waiting for a worker" in text and "aegntix worker --db" in text
        # the queued run is the branch's run: pause withdraws it, run/step are off
        assert page.locator("[data-testid=pause]").is_enabled()
        assert page.locator("[data-testid=run]").is_disabled()
        assert page.locator("[data-testid=step]").is_disabled()
        ui.shot(artifacts, "ui-queued-no-worker-1280.png")

        page.locator("[data-testid=pause]").click()
        _status_is(page, "paused")
        assert banner.is_hidden()

        page.locator("[data-testid=run]").click()  # "Resume": queued again
        _status_is(page, "queued")
        cluster.worker()
        _status_is(page, "done")
        assert banner.is_hidden()
        assert ui.errors == []
    finally:
        context.close()
