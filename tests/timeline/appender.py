"""A writing process for the multi-process tests: ``python -m tests.timeline.appender DB
BRANCH NAME MODE N``. One JSON line per append on stdout, flushed once it is acknowledged.

MODE ``race``: try ``expect_seq = k`` for k = 0 … N-1, once each (the other process does the
same: for every k exactly one of the two can win). MODE ``free``: N appends, no expectation.
"""

from __future__ import annotations

import json
import sys

from aegntix.errors import BranchBusy
from aegntix.model.events import EventKind, NewEvent
from aegntix.timeline import open_store


def main(db: str, branch: str, name: str, mode: str, n: int) -> None:
    with open_store(db) as store:
        print(json.dumps({"ready": name}), flush=True)
        for k in range(n):
            event = NewEvent(0, EventKind.MESSAGE, {"text": f"{name} {k}", "by": name, "k": k}, "a")
            try:
                if mode == "race":
                    got = store.append(branch, [event], expect_seq=k)
                else:
                    got = store.append(branch, [event])
            except BranchBusy:
                print(json.dumps({"busy": k}), flush=True)
                continue
            print(json.dumps({"won": k, "seq": got[0].seq}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
