"""The ``Scheduler``: many branches advancing concurrently in one asyncio loop.

Concurrency is limited per *step*, not per run, so a thousand runs interleave fairly and a
slow brain in one branch never holds the others back longer than one step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aegntix.brains.registry import BrainFactory
from aegntix.engine.runner import Runner, RunSummary, StepCallback, StepResult
from aegntix.errors import BranchBusy
from aegntix.timeline.store import Store


class Scheduler:
    def __init__(
        self,
        store: Store,
        *,
        concurrency: int = 64,
        brains: BrainFactory | None = None,
        on_step: StepCallback | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.store = store
        self._limit = asyncio.Semaphore(concurrency)
        self._brains = brains
        self._on_step = on_step
        self._runners: dict[str, Runner] = {}
        self._tasks: dict[str, asyncio.Task[RunSummary]] = {}

    def start(
        self, branch_id: str, *, steps: int | None = None, runner: Runner | None = None
    ) -> asyncio.Task[RunSummary]:
        """Start (or resume) running a branch; one task per branch at a time. ``runner``: a
        fresh Runner built by the caller (e.g. off the event loop, or after the branch was
        written to from elsewhere) replaces the cached one."""
        task = self._tasks.get(branch_id)
        if task is not None and not task.done():
            raise BranchBusy(f"branch {branch_id} is already running")
        runner = (
            runner
            or self._runners.get(branch_id)
            or Runner(self.store, branch_id, brains=self._brains)
        )
        self._runners[branch_id] = runner
        task = asyncio.create_task(self._run(runner, steps), name=f"run:{branch_id}")
        self._tasks[branch_id] = task
        return task

    async def _run(self, runner: Runner, steps: int | None) -> RunSummary:
        runner.step_limit = self._limit
        return await runner.run(steps, self._on_step)

    def pause(self, branch_id: str) -> None:
        """Ask a running branch to stop after its current step."""
        runner = self._runners.get(branch_id)
        if runner is not None:
            runner.pause()

    def resume(self, branch_id: str, *, steps: int | None = None) -> asyncio.Task[RunSummary]:
        return self.start(branch_id, steps=steps)

    async def step(self, branch_id: str, *, runner: Runner | None = None) -> StepResult | None:
        """Advance one branch by exactly one step (for stepping through a run by hand)."""
        task = self._tasks.get(branch_id)
        if task is not None and not task.done():
            raise BranchBusy(f"branch {branch_id} is running; pause it first")
        runner = (
            runner
            or self._runners.get(branch_id)
            or Runner(self.store, branch_id, brains=self._brains)
        )
        self._runners[branch_id] = runner
        async with self._limit:
            return await runner.step()

    def forget(self, branch_id: str) -> None:
        """Drop a finished branch's runner and task (a long-lived scheduler would otherwise
        keep every runner it ever made). No effect on a branch that is running."""
        task = self._tasks.get(branch_id)
        if task is not None and not task.done():
            return
        self._tasks.pop(branch_id, None)
        self._runners.pop(branch_id, None)

    async def run_all(
        self, branch_ids: Iterable[str], *, steps: int | None = None
    ) -> dict[str, RunSummary]:
        """Run every branch to termination (or ``steps``) concurrently; wait for all."""
        tasks = {b: self.start(b, steps=steps) for b in branch_ids}
        results = await asyncio.gather(*tasks.values())
        return dict(zip(tasks, results, strict=True))

    async def wait(self) -> dict[str, RunSummary]:
        """Wait for every started run; re-raises the first failure."""
        results = await asyncio.gather(*self._tasks.values())
        return dict(zip(self._tasks, results, strict=True))
