"""Faults of tool servers: a server killed mid-call, a hanging tool (timeout), a server that
never starts, a malformed result. Each is an error event; the run goes on; the database
verifies (``aegntix verify``); a crashed server is restarted with backoff."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import psutil
from typer.testing import CliRunner

from aegntix.cli import app
from aegntix.engine.runner import Runner, start_scenario
from aegntix.model.events import BranchStatus, EventKind
from aegntix.timeline import open_sqlite_store
from aegntix.tools.base import Backoff
from aegntix.tools.router import RunTools, ToolRouter

from .helpers import CallingBrain, brains, scenario, stdio

PLAN: dict[int, list[tuple[str, dict[str, Any]]]] = {
    1: [
        ("faulty.ok", {"x": 1}),
        ("faulty.hang", {}),
        ("never.anything", {}),
        ("junk.junk", {}),
    ],
    2: [("faulty.die", {})],
    3: [("faulty.ok", {"x": 3})],  # the server is restarting: down, an error
}


async def test_each_fault_is_an_error_event_and_the_run_goes_on(tmp_path: Path) -> None:
    spec = scenario(
        {
            "faulty": stdio("faulty.py", timeout_s=0.5),
            "never": stdio("faulty.py", "--mode", "never"),
            "junk": stdio("faulty.py", "--mode", "malformed"),
        },
        steps=3,
    )
    brain = CallingBrain(lambda agent, step: PLAN.get(step, []))
    router = ToolRouter(Backoff(first=0.2))
    db = tmp_path / "t.db"
    with open_sqlite_store(db) as store:
        branch = start_scenario(store, spec)
        runner = Runner(store, branch.id, brains=brains(brain), tools=router)
        try:
            summary = await runner.run()
            assert summary.status is BranchStatus.DONE and summary.completed_step == 3
            results = {
                (e.step, e.payload["name"]): e.payload
                for e in store.events(branch.id)
                if e.kind == EventKind.TOOL_RESULT
            }
            assert results[(1, "faulty.ok")]["result"] == {"ok": 1}
            assert "timed out after 0.5s" in results[(1, "faulty.hang")]["error"]
            never = results[(1, "never.anything")]["error"]
            assert "down" in never and "refusing to start" in never  # its stderr says why
            assert "malformed result" in results[(1, "junk.junk")]["error"]
            assert "exited during the call" in results[(2, "faulty.die")]["error"]
            assert "is down" in results[(3, "faulty.ok")]["error"]
            assert all("result" not in p for (s, n), p in results.items() if n != "faulty.ok")

            # restarted with backoff: up again, and answering
            assert runner.tools.recorder is not None
            live = runner.tools.recorder.live
            assert isinstance(live, RunTools)
            faulty = live.servers["faulty"]
            assert await faulty.wait_up(10)
            assert faulty.restarts == 1
            outcome = await live.call("a", 4, "faulty.ok", {"x": 4})
            assert outcome.result == {"ok": 4}
            rows = {r["server"]: r for r in router.status()}
            assert rows["never"]["status"] in ("down", "starting")
            assert "refusing to start" in rows["never"]["last_error"]
            assert rows["faulty"]["status"] == "up" and rows["faulty"]["tools"] == 3
        finally:
            await router.aclose()
    result = CliRunner().invoke(app, ["verify", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "every chain verifies" in result.stdout


async def test_a_server_that_never_answers_times_out_its_start() -> None:
    mute = {
        "command": sys.executable,
        "args": ["-c", "import time; time.sleep(60)"],  # never speaks MCP
        "start_timeout_s": 0.3,
    }
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    router = ToolRouter()
    try:
        tools = router.for_run(scenario({"mute": mute}))
        await tools.prepare()  # a server that is down does not stop the run from starting
        outcome = await tools.call("a", 1, "mute.anything", {})
        assert outcome.error == "server 'mute' is down: did not start within 0.3s"
        assert not {p.pid for p in psutil.Process().children(recursive=True)} - before
    finally:
        await router.aclose()  # kills it: it ignores its stdin closing
    assert not {p.pid for p in psutil.Process().children(recursive=True)} - before


def test_restart_delays_double_up_to_a_cap() -> None:
    backoff = Backoff(first=0.5, most=3.0)
    assert [backoff.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
