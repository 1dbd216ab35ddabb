"""What the rollout-set tests share: a known strong injection and running a set with its
control."""

from __future__ import annotations

import asyncio
from typing import Any

from aegntix.analysis.rollouts import InjectionSpec, repository, run_sets, with_control
from aegntix.timeline.store import Store

#: An explicit stance push toward +0.9: a known, strong effect on the town-hall debate.
NEWS = InjectionSpec("The river flooded the car park.", fields={"stance": 0.9})


def run_all(store: Store, set_id: str, **kw: Any) -> None:
    """Run the set and its control (if any) to the end."""
    asyncio.run(run_sets(store, with_control(repository(store), set_id), **kw))
