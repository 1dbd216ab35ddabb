"""Invariant 7: an append that returned survives ``kill -9`` of the process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aegntix.timeline import open_sqlite_store, verify

from .helpers import assert_chain

CHILD = textwrap.dedent(
    """
    import sys, threading
    from aegntix.model.events import EventKind, NewEvent
    from aegntix.timeline import open_sqlite_store

    store = open_sqlite_store(sys.argv[1], snapshot_every=7)
    scenario = store.create_scenario("crash", {})
    branch = store.create_branch(scenario.id, seed=1).id
    print("BRANCH", branch, flush=True)
    lock = threading.Lock()

    def appender(n: int) -> None:
        i = 0
        while True:
            i += 1
            event = NewEvent(0, EventKind.MESSAGE, {"t": n, "i": i, "pad": "x" * 50})
            events = [event] * (1 + i % 3)
            for e in store.append(branch, events):
                with lock:  # printed only after append returned, i.e. after the commit
                    print(e.seq, e.hash, flush=True)

    for n in range(4):
        threading.Thread(target=appender, args=(n,), daemon=True).start()
    threading.Event().wait()
    """
)


@pytest.mark.slow
def test_acknowledged_appends_survive_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    reported: dict[int, str] = {}
    branch = ""
    deadline = time.monotonic() + 60
    try:
        while len(reported) < 2000 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("BRANCH"):
                branch = line.split()[1]
                continue
            seq, hash_ = line.split()
            reported[int(seq)] = hash_
    finally:
        os.kill(proc.pid, signal.SIGKILL)
    rest, err = proc.communicate(timeout=30)
    # Acknowledged before the kill, still in the pipe. Only whole lines count: the last piece
    # after the final newline is "" or a line the kill cut short (not an acknowledgement).
    for line in rest.split("\n")[:-1]:
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and len(parts[1]) == 64:
            reported[int(parts[0])] = parts[1]
    assert proc.returncode == -signal.SIGKILL
    assert branch and len(reported) >= 500, err

    store = open_sqlite_store(db)
    try:
        head = store.get_branch(branch)
        assert head.head_seq >= max(reported)
        events = list(store.events(branch))
        assert_chain(events)
        by_seq = {e.seq: e.hash for e in events}
        missing = [s for s in reported if by_seq.get(s) != reported[s]]
        assert not missing, f"acknowledged but lost: {missing[:10]}"
        assert verify(store).ok
    finally:
        store.close()
