"""The ``Runner``: advances one branch step by step.

A step: injections already recorded for it are visible; each agent observes, its brain
decides, the decision becomes events that the reducer folds into state; dynamics run;
outcomes are computed; a ``step_end`` event closes the step. The whole step is appended in
one atomic write, so a crash leaves whole steps only and a resumed run continues from the
last one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from aegntix.brains.base import Brain, Decision, Observation, Reflector
from aegntix.brains.reachability import check_endpoints
from aegntix.brains.registry import BrainContext, BrainFactory, brains_for
from aegntix.engine.effects import decision_events, dynamics_event, step_end_events
from aegntix.engine.failures import failure_from
from aegntix.engine.observation import Window, observe
from aegntix.engine.seeding import rng_for
from aegntix.engine.tool_calls import EngineTools, ToolsSource
from aegntix.engine.turns import acting_order
from aegntix.errors import AegntixError, BranchBusy
from aegntix.inject.pending import SPREADING, Pending
from aegntix.memory.embedding import pinned_embedder
from aegntix.memory.profiles import committed_memories
from aegntix.memory.records import Recall
from aegntix.memory.stream import MemoryStream
from aegntix.model.events import Branch, BranchStatus, Event, EventKind, Failure, NewEvent
from aegntix.model.outcomes import compute_outcomes, is_terminal
from aegntix.model.scenario import Scenario, TurnOrder
from aegntix.model.state import STEP_END, State, apply_event, initial_patch
from aegntix.model.stored import scenario_from
from aegntix.observability import metrics
from aegntix.observability.logs import with_log_context
from aegntix.swarm.recorded import recorded_topology
from aegntix.swarm.topology import build as build_topology
from aegntix.swarm.visibility import Visibility
from aegntix.timeline.prepare import check_seed
from aegntix.timeline.state import state_at
from aegntix.timeline.store import Store

log = structlog.get_logger(__name__)


def _log_fields(runner: Runner) -> dict[str, str]:
    """What every log line of a run carries (``observability/logs.py``)."""
    return {"branch_id": runner.branch.id, "tenant_id": runner.branch.tenant_id}


@dataclass(frozen=True, slots=True)
class StepResult:
    branch_id: str
    step: int
    events: list[Event]
    outcomes: dict[str, Any]
    terminal: bool


@dataclass(frozen=True, slots=True)
class RunSummary:
    branch_id: str
    steps_run: int
    completed_step: int
    status: BranchStatus
    outcomes: dict[str, Any]
    head_seq: int


StepCallback = Callable[[StepResult], Awaitable[None] | None]


def start_scenario(
    store: Store, scenario: Scenario, *, seed: int | None = None, label: str = "main"
) -> Branch:
    """Record a validated scenario and its root branch with the step-0 events. Persistent
    agents (``profile``) are resolved and pinned first; a missing one raises before anything
    is written."""
    if seed is not None:
        check_seed(seed)  # before anything is written: a bad seed leaves no scenario behind
    profiles = None
    if any(a.profile is not None for a in scenario.agents):
        from aegntix.memory.profiles import ProfileStore

        profiles = ProfileStore(store)
        scenario = profiles.resolve(scenario)
    if scenario.memory_on:  # record the embedder really used (the default may fall back)
        embedder = pinned_embedder(scenario.memory.embedder)
        if embedder != scenario.memory.embedder:
            memory = scenario.memory.model_copy(update={"embedder": embedder})
            scenario = scenario.model_copy(update={"memory": memory})
    record = store.create_scenario(scenario.name, scenario.model_dump(mode="json"))
    branch = store.create_branch(
        record.id, seed=scenario.seed if seed is None else seed, label=label
    )
    _write_start(store, branch, scenario, record.spec_hash)
    if profiles is not None:
        profiles.record_uses(record.id, scenario)
    return store.get_branch(branch.id)


def _write_start(store: Store, branch: Branch, scenario: Scenario, spec_hash: str) -> None:
    start: dict[str, Any] = {"type": "start", "scenario": scenario.name, "spec_hash": spec_hash}
    if scenario.topology is not None and not scenario.topology.is_mesh:
        start["topology"] = build_topology(scenario).payload()  # replays read it back
    initial = {"set": initial_patch(scenario), "cause": "initial"}
    store.append(
        branch.id,
        [NewEvent(0, EventKind.SYSTEM, start), NewEvent(0, EventKind.WORLD, initial)],
        expect_seq=0,
    )


class Runner:
    """Runs one branch. Create one per branch and run; not shared between tasks."""

    def __init__(
        self,
        store: Store,
        branch_id: str,
        *,
        brains: BrainFactory | None = None,
        tools: ToolsSource = None,
    ):
        self.store = store
        branch = store.get_branch(branch_id)
        record = store.get_scenario(branch.scenario_id)
        self.scenario = scenario_from(record)
        if branch.head_seq == 0:  # created but never started (a crash right after creation)
            _write_start(store, branch, self.scenario, record.spec_hash)
        factory = brains or brains_for(
            BrainContext(store, branch.tenant_id, branch.scenario_id, branch.id)
        )
        self._brains: dict[str, Brain] = {
            a.id: factory(self.scenario, a) for a in self.scenario.agents
        }
        #: The run's tools (``aegntix.tools``): the scenario's servers, or ``tools``.
        self.tools = EngineTools(self.scenario, store, branch_id, tools, branch.tenant_id)
        self._committed = (
            committed_memories(store, self.scenario) if self.scenario.memory_on else {}
        )
        # brains that reflect themselves (model-backed); the rules reflect for the others
        self._reflectors = {
            agent_id: brain
            for agent_id, brain in self._brains.items()
            if isinstance(brain, Reflector)
        }
        self.memory: MemoryStream | None = None
        self._pause_requested = False
        self._checked = False  # model servers checked (once per run, before its first step)
        #: Why the last step or run failed (also recorded on the branch row).
        self.failure: Failure | None = None
        self._failed: BaseException | None = None
        #: Shared by a Scheduler's runners: each step holds one slot.
        self.step_limit: asyncio.Semaphore | None = None
        self.branch = branch
        self.visibility = Visibility(
            self.scenario, recorded_topology(store, branch.id, self.scenario)
        )
        self._reload()

    def _reload(self) -> None:
        self._terminal: bool | None = None  # known after a step (its step_end says it)
        self.branch = self.store.get_branch(self.branch.id)
        self._head_seq = self.branch.head_seq
        self.state: State = state_at(self.store, self.branch.id)
        self.window = Window(self.scenario.memory_window, self.visibility)
        self.spreads = Pending()  # injections still spreading (gradual waves to write)
        completed = self.state["completed"]
        first = max(0, completed + 1 - self.scenario.memory_window)
        if not self.scenario.memory_on:
            # from the last step_end at least: it names the spreads still open
            tail = list(self.store.events(self.branch.id, from_step=min(first, completed)))
            self.window.extend(e for e in tail if e.step >= first)
            self.spreads.load(self.store, self.branch.id, tail)
            return
        # one pass over the timeline: the memory stream needs all of it, the window its tail
        events = list(self.store.events(self.branch.id))
        self.window.extend(e for e in events if e.step >= first)
        self.spreads.extend(events)
        self.memory = MemoryStream(
            self.scenario, committed=self._committed, visibility=self.visibility
        )
        self.memory.load(events)

    @property
    def head_seq(self) -> int:
        """The last seq this runner appended or read (its view of the branch head)."""
        return self._head_seq

    @property
    def completed_step(self) -> int:
        return int(self.state["completed"])

    def outcomes(self) -> dict[str, Any]:
        return compute_outcomes(self.scenario, self.state)

    def is_done(self) -> bool:
        if self._terminal is not None:  # the state has not changed since the step said it
            return self._terminal
        return is_terminal(self.scenario, self.state, self.outcomes())

    def pause(self) -> None:
        """Stop after the step in progress; the branch is left ``paused``."""
        self._pause_requested = True

    @with_log_context(_log_fields)
    async def step(self) -> StepResult | None:
        """Run exactly one step; None if the branch has already terminated. A step that
        raises writes nothing; unless another writer took the branch (``BranchBusy``), the
        branch is then ``failed`` with the reason recorded, and the error re-raised."""
        step = self.completed_step + 1
        try:
            if self.is_done():
                return None
            if not self._checked:
                await check_endpoints(self._brains.values())
                await self.tools.prepare()
                self._checked = True
            return await self._step(step)
        except BranchBusy:
            raise
        except Exception as exc:
            self._fail(exc, step)
            raise

    def _fail(self, exc: BaseException, step: int) -> None:
        if exc is self._failed:
            return  # recorded by the step already
        self._failed = exc
        self.failure = failure_from(exc, step)
        if not isinstance(exc, AegntixError):
            log.error("step failed unexpectedly", branch=self.branch.id, step=step, exc_info=exc)
        self.store.set_status(self.branch.id, BranchStatus.FAILED, failure=self.failure)

    async def _step(self, step: int) -> StepResult:
        started = time.perf_counter()
        seed = self.branch.seed
        self.window.advance(step)
        pending: list[NewEvent] = []
        seq = self._head_seq

        def record(event: NewEvent) -> int:
            nonlocal seq
            seq += 1
            apply_event(self.state, event.kind, event.step, event.payload)
            self.window.add(seq, event.step, event.kind, event.agent_id, event.payload)
            self.spreads.add(seq, event.step, event.kind, event.payload)
            pending.append(event)
            return seq

        def next_seq() -> int:
            return seq + 1

        try:
            for due in self.spreads.due(step):  # spreading injections, before anyone decides
                record(due)
            agents = acting_order(self.scenario, seed, step)
            if self.scenario.turn_order is TurnOrder.SIMULTANEOUS:
                views = [self._observe(a.id, step) for a in agents]
                decisions = await asyncio.gather(
                    *(
                        self._brains[a.id].decide(view, rng_for(seed, step, a.id))
                        for a, (view, _) in zip(agents, views, strict=True)
                    )
                )
                for (view, recalled), decision in zip(views, decisions, strict=True):
                    await self._record_decision(view, recalled, decision, record, next_seq)
            else:
                for agent in agents:
                    view, recalled = self._observe(agent.id, step)
                    decision = await self._brains[agent.id].decide(
                        view, rng_for(seed, step, agent.id)
                    )
                    await self._record_decision(view, recalled, decision, record, next_seq)
            dynamics = dynamics_event(self.scenario, self.state, step)
            if dynamics is not None:
                record(dynamics)
            for event in step_end_events(self.scenario, self.state, step, seed):
                record(event)
            self.state["step"] = max(self.state["step"], step)
            self.state["completed"] = step
            outcomes = self.outcomes()
            terminal = is_terminal(self.scenario, self.state, outcomes)
            end = {"type": STEP_END, "outcomes": outcomes, "terminal": terminal}
            if spreading := self.spreads.still_open(step):  # a resumed runner reads these
                end[SPREADING] = spreading
            record(NewEvent(step, EventKind.SYSTEM, end))
            appended = await self.store.append_async(
                self.branch.id, pending, expect_seq=self._head_seq
            )
        except BaseException:
            self._reload()  # nothing of this step was written: drop its in-memory effects
            raise
        self._head_seq = appended[-1].seq
        self._terminal = terminal
        metrics.step_done(time.perf_counter() - started)
        return StepResult(self.branch.id, step, appended, outcomes, terminal)

    def _observe(self, agent_id: str, step: int) -> tuple[Observation, list[Recall]]:
        view = self.tools.view(observe(self.scenario, self.state, agent_id, step, self.window))
        if self.memory is None:
            return view, []
        return self.memory.recall(view)

    async def _record_decision(
        self,
        view: Observation,
        recalled: list[Recall],
        decision: Decision,
        record: Callable[[NewEvent], int],
        next_seq: Callable[[], int],
    ) -> None:
        agent_id, step = view.agent.id, view.step
        for event in await self.tools.events_for(view, decision, self.state):
            record(event)  # before the decision's events: its effects may read a result
        decision, off_graph = self.visibility.addressed(agent_id, step, decision)
        events = decision_events(self.scenario, self.state, agent_id, step, decision)
        if off_graph is not None:  # after the decision record, before what it did
            at = 1 if events and events[0].kind == EventKind.DECISION else 0
            events.insert(at, off_graph)
        produced = [(record(event), event) for event in events]
        if self.memory is None:
            return
        reflector = self._reflectors.get(agent_id)
        made = await self.memory.after_decision(
            view,
            recalled,
            decision,
            produced,
            self.state,
            next_seq(),
            reflector=reflector,
            rng=None
            if reflector is None
            else rng_for(self.branch.seed, step, f"{agent_id}/reflect"),
        )
        for event in made:
            record(event)

    @with_log_context(_log_fields)
    async def run(
        self, steps: int | None = None, on_step: StepCallback | None = None
    ) -> RunSummary:
        """Run up to ``steps`` steps (None: until termination), pausable between steps."""
        self._pause_requested = False
        self._checked = False
        self.failure = None
        if self.branch.status is BranchStatus.RUNNING:
            log.warning(
                "resuming a branch left running",
                branch=self.branch.id,
                completed_step=self.completed_step,
            )
        self.store.set_status(self.branch.id, BranchStatus.RUNNING)
        ran = 0
        status = BranchStatus.IDLE
        try:
            while steps is None or ran < steps:
                if self._pause_requested:
                    status = BranchStatus.PAUSED
                    break
                if self.step_limit is None:
                    result = await self.step()
                else:
                    async with self.step_limit:
                        result = await self.step()
                if result is None:
                    status = BranchStatus.DONE
                    break
                ran += 1
                if on_step is not None:
                    maybe = on_step(result)
                    if maybe is not None:
                        await maybe
                if result.terminal:
                    status = BranchStatus.DONE
                    break
        except BranchBusy:
            raise  # someone else is running it; leave its status alone
        except Exception as exc:
            self._fail(exc, self.completed_step + 1)  # e.g. ``on_step`` failed
            raise
        except asyncio.CancelledError:
            self.store.set_status(self.branch.id, BranchStatus.PAUSED)
            raise
        self.store.set_status(self.branch.id, status)
        return RunSummary(
            self.branch.id, ran, self.completed_step, status, self.outcomes(), self._head_seq
        )
