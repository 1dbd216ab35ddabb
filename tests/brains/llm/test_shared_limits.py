"""Provider limits shared across processes (``brains/shared_limits.py``, PostgreSQL).

The process tests run three real ``aegntix run`` processes on one PostgreSQL schema against
one fake provider (its own server, so its counters see only these calls) and check what the
*server* saw: never more calls in flight than the limit, never more starts in a window than
the rate allows — with every process wanting more.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aegntix.brains.limits import LOCAL, Limits
from aegntix.brains.shared_limits import TTL_ENV, SqlLimits, limits_for
from aegntix.testing import FakeLLM
from aegntix.testing.fake_llm import Reply, Request, default_responder
from aegntix.timeline import SqlStore, open_sqlite_store, open_store
from tests.brains.llm.support import KEY, KEY_ENV, llm_scenario

#: Bounds waits only (a loaded machine is slow); nothing asserts a duration.
PROCESS_TIMEOUT = 240


def test_sqlite_keeps_limits_in_the_process(tmp_path: Path) -> None:
    with open_sqlite_store(tmp_path / "t.db") as store:
        assert limits_for(store) is LOCAL


def test_postgres_shares_them_unless_told_not_to(
    pg_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(limits_for(pg_store), SqlLimits)
    assert limits_for(pg_store) is limits_for(pg_store)  # one per database and process
    monkeypatch.setenv("AEGNTIX_LLM_LIMITS", "local")
    assert limits_for(pg_store) is LOCAL


@pytest.fixture
def holder(pg_store: SqlStore) -> Iterator[Callable[..., SqlLimits]]:
    """Makes limits backends on one database, as separate processes would have (each its
    own holder id, pool and keeper); closes them after the test."""
    made: list[SqlLimits] = []

    def make(ttl: float | None = None) -> SqlLimits:
        made.append(SqlLimits(pg_store.engine, ttl=ttl))
        return made[-1]

    yield make
    for backend in made:
        backend.close()


def test_slots_are_taken_once_and_given_back(holder: Callable[..., SqlLimits]) -> None:
    first, second = holder(), holder()
    limits = Limits(concurrency=2)
    a, _ = first.take("endpoint", limits)
    b, _ = second.take("endpoint", limits)
    assert a is not None and b is not None and {a, b} == {0, 1}
    assert first.take("endpoint", limits) == (None, 0.0)
    assert second.take("other endpoint", limits)[0] is not None  # endpoints are separate
    first.release("endpoint", a)
    assert second.take("endpoint", limits)[0] == a


def test_an_unrenewed_slot_expires(holder: Callable[..., SqlLimits]) -> None:
    """A holder that stops renewing (a killed process) loses its slot after the TTL."""
    gone, alive = holder(ttl=1.0), holder(ttl=1.0)
    gone._stop.set()  # its keeper never renews
    assert gone.take("endpoint", Limits(1))[0] == 0
    assert alive.take("endpoint", Limits(1)) == (None, 0.0)
    deadline = time.monotonic() + 60
    while alive.take("endpoint", Limits(1))[0] is None:
        assert time.monotonic() < deadline, "the slot never expired"
        time.sleep(0.2)


def test_a_renewed_slot_outlives_its_ttl(holder: Callable[..., SqlLimits]) -> None:
    keeper, other = holder(ttl=2.0), holder(ttl=2.0)
    assert keeper.take("endpoint", Limits(1))[0] == 0
    time.sleep(5)  # more than twice the TTL: only renewals (every 0.67 s) kept it
    assert other.take("endpoint", Limits(1)) == (None, 0.0)


def test_rate_reservations_space_the_starts(holder: Callable[..., SqlLimits]) -> None:
    """GCRA: 6 a minute is one start every 10 s; the first starts now, each next one a
    reservation 10 s after the previous (less the few ms the statements took)."""
    backend = holder()
    limits = Limits(concurrency=10, per_minute=6)
    waits = [backend.take("endpoint", limits)[1] for _ in range(3)]
    assert waits[0] == 0.0
    assert 8.0 < waits[1] <= 10.0
    assert 18.0 < waits[2] <= 20.0


# -- three real processes ----------------------------------------------------------------


def _scenario_file(tmp_path: Path, fake: FakeLLM, name: str, example: str, **brain: Any) -> Path:
    steps = brain.pop("steps", 1)
    scenario = llm_scenario(fake, example, steps=steps, **brain)
    data = scenario.model_dump(mode="json")
    data["name"] = name
    data["turn_order"] = "simultaneous"  # every agent asks at once: each process wants more
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({KEY_ENV: KEY, "AEGNTIX_SECRETS": "/nonexistent/aegntix-secrets.env"})
    env.update(extra)
    return env


def _start(path: Path, db: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "aegntix", "run", str(path), "--db", db, "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


#: Imports what a run needs (the slow part of starting), says so, then waits for the test's
#: signal: the three processes then begin calling together, however loaded the machine is.
LAUNCHER = """
import pathlib, sys, time
import aegntix.brains.llm, aegntix.brains.openai, aegntix.brains.shared_limits, aegntix.engine
from aegntix.cli import app
go = pathlib.Path(sys.argv[1])
pathlib.Path(f"{go}.{sys.argv[2]}").touch()
while not go.exists():
    time.sleep(0.01)
sys.argv = ["aegntix", *sys.argv[3:]]
app()
"""


def _start_together(paths: list[Path], db: str, env: dict[str, str]) -> list[subprocess.Popen[str]]:
    open_store(db).close()  # the tables first: else the processes queue on the migration lock
    go = paths[0].parent / "go"
    launch = [sys.executable, "-c", LAUNCHER, str(go)]
    procs = [
        subprocess.Popen(
            [*launch, str(i), "run", str(path), "--db", db, "--quiet"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i, path in enumerate(paths)
    ]
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while not all(Path(f"{go}.{i}").exists() for i in range(len(paths))):
        for proc in procs:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "the processes never got ready"
        time.sleep(0.05)
    go.touch()
    return procs


def _finish(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        _, err = proc.communicate(timeout=PROCESS_TIMEOUT)
        assert proc.returncode == 0, f"exit {proc.returncode}: {err[-2000:]}"


def _by_scenario(requests: list[Request], names: list[str]) -> dict[str, list[float]]:
    seen: dict[str, list[float]] = {name: [] for name in names}
    for request in requests:
        text = request.prompt_text()
        for name in names:
            if f'"{name}"' in text:
                seen[name].append(request.at)
    return seen


def _assert_overlapping(times: dict[str, list[float]]) -> None:
    """A precondition: the processes really ran at the same time (else any limit holds) —
    each one's calls overlap another's. (Not all three at once: a loaded machine can start
    one seconds late, and two unshared processes at once already break the limits.)"""
    spans = [(min(t), max(t)) for t in times.values()]
    for i, (start, end) in enumerate(spans):
        others = spans[:i] + spans[i + 1 :]
        assert any(start < o_end and o_start < end for o_start, o_end in others), spans


@pytest.fixture
def slow_fake() -> Iterator[FakeLLM]:
    def answer(request: Request) -> Reply:
        return Reply(answer=default_responder(request).answer, delay=0.4)

    with FakeLLM(answer) as fake:
        yield fake


@pytest.mark.slow
def test_three_processes_never_exceed_the_concurrency_limit(
    tmp_path: Path, pg_url: str, slow_fake: FakeLLM
) -> None:
    names = ["limits-a", "limits-b", "limits-c"]
    files = [
        _scenario_file(tmp_path, slow_fake, n, "town-hall", concurrency=2, steps=2) for n in names
    ]
    _finish(_start_together(files, pg_url, _env()))
    agents = 9
    assert slow_fake.count == 3 * 2 * agents
    times = _by_scenario(slow_fake.requests, names)
    assert all(len(t) == 2 * agents for t in times.values())
    # All three were released together and each wanted 9 calls at once from the start: while
    # any one called, the others were waiting for a slot (the order they got slots in is not
    # fair by design, so their spans need not overlap). Each process alone would have 2 in
    # flight, so together up to 6 without sharing.
    assert slow_fake.max_in_flight == 2


@pytest.mark.slow
def test_three_processes_share_one_rate_limit(tmp_path: Path, pg_url: str) -> None:
    with FakeLLM() as fake:
        names = ["rate-a", "rate-b", "rate-c"]
        # 120 a minute: one start every 0.5 s, bursts of 2; each process asks 4 times.
        files = [
            _scenario_file(tmp_path, fake, n, "negotiation", requests_per_minute=120, steps=2)
            for n in names
        ]
        _finish(_start_together(files, pg_url, _env()))
        arrivals = sorted(r.at for r in fake.requests)
        times = _by_scenario(fake.requests, names)
    per_process = len(arrivals) // 3
    assert per_process >= 4 and all(len(t) == per_process for t in times.values())
    _assert_overlapping(times)
    interval, burst = 0.5, 2
    # GCRA: at most burst + window/interval starts in any window. Slack 2 covers arrivals a
    # loaded machine delays past the next one's start (up to 1 s); without sharing, three
    # processes start three times as often and break this by far.
    slack = 2
    for i, first in enumerate(arrivals):
        for j in range(i + 1, len(arrivals)):
            window = arrivals[j] - first
            assert j - i + 1 <= burst + window / interval + slack, (i, j, window)


@pytest.mark.slow
def test_a_killed_process_frees_its_slot(tmp_path: Path, pg_url: str) -> None:
    """Concurrency 1: a process holding the only slot is killed mid-call; another process
    gets the slot once it expires and finishes its run."""

    def answer(request: Request) -> Reply:
        stuck = '"stuck"' in request.prompt_text()
        return Reply(answer=default_responder(request).answer, delay=600 if stuck else 0)

    with FakeLLM(answer) as fake:
        env = _env(**{TTL_ENV: "2"})
        stuck = _start(
            _scenario_file(tmp_path, fake, "stuck", "negotiation", concurrency=1, timeout=600),
            pg_url,
            env,
        )
        try:
            deadline = time.monotonic() + PROCESS_TIMEOUT
            while fake.count == 0:  # it holds the slot once its call reached the server
                assert stuck.poll() is None, stuck.communicate()[1][-2000:]
                assert time.monotonic() < deadline, "the first process never called"
                time.sleep(0.1)
        finally:
            stuck.send_signal(signal.SIGKILL)
            stuck.communicate(timeout=PROCESS_TIMEOUT)
        # Without expiry it would wait for the dead process's slot until the timeout here.
        free = _scenario_file(tmp_path, fake, "free", "negotiation", concurrency=1)
        _finish([_start(free, pg_url, env)])
        assert len(_by_scenario(fake.requests, ["free"])["free"]) >= 2
