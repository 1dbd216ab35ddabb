"""A :class:`Branch` handle: one timeline in a :class:`~aegntix.client.Sandbox` — read its
events, state and outcomes, fork it (with an injection), run it, compare it, and start a
rollout set from it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aegntix.analysis.rollouts import DEFAULT_CONCURRENCY, InjectionSpec, ProgressCallback
from aegntix.client.frames import events_frame, outcomes_frame
from aegntix.errors import InvalidRequest
from aegntix.inject.registry import strategy_named
from aegntix.model.events import Branch as BranchRecord
from aegntix.model.events import Event, Failure
from aegntix.model.outcomes import compute_outcomes
from aegntix.model.scenario import Scenario
from aegntix.model.state import State
from aegntix.model.stored import scenario_from
from aegntix.timeline import Comparison, compare, state_at

if TYPE_CHECKING:
    from aegntix.client.sandbox import Sandbox
    from aegntix.client.sets import RolloutSet


class Events(list[Event]):
    """A branch's events in seq order (``aegntix.model.events.Event``: seq, step, kind,
    agent_id, payload, hash, …); ``to_pandas()`` gives one row per event."""

    def to_pandas(self) -> Any:
        return events_frame(self)


class Outcomes(dict[str, Any]):
    """A branch's outcomes by name (a per-agent outcome is ``{agent: value}``);
    ``to_pandas()`` gives one row indexed by the branch id, a column per outcome."""

    def __init__(self, branch_id: str, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self.branch_id = branch_id

    def to_pandas(self) -> Any:
        return outcomes_frame(self.branch_id, self)


def injection_spec(
    text: str | None,
    *,
    strategy: str | None,
    targets: Sequence[str] | None,
    stance: float | None,
    world: Mapping[str, Any] | None,
    urgency: float,
    schedule: Mapping[str, Any] | None = None,
) -> InjectionSpec | None:
    """What to inject (``None``: nothing); the strategy defaults as in the CLI: ``gradual``
    with a schedule (``organic`` with its source/p/max_steps), ``direct`` with targets,
    else ``broadcast``; an unknown one is an ``InvalidRequest`` listing the registered
    strategies. The engine validates the rest before writing."""
    if text is None:
        if targets or strategy or stance is not None or world or schedule:
            raise InvalidRequest("targets/strategy/schedule/stance/world need inject=TEXT")
        return None
    if isinstance(targets, str):  # a lone agent id, not a sequence of one-letter ids
        targets = [targets]
    if strategy is not None:
        strategy_named(strategy)
    return InjectionSpec(
        text,
        schedule=dict(schedule) if schedule is not None else None,
        strategy=strategy
        or (_scheduled(schedule) if schedule else "direct" if targets else "broadcast"),
        targets=list(targets) if targets else None,
        fields={} if stance is None else {"stance": stance},
        world=dict(world or {}),
        urgency=urgency,
    )


def _scheduled(schedule: Mapping[str, Any]) -> str:
    """The strategy a schedule alone implies: organic's keys, else gradual's."""
    return "organic" if set(schedule) & {"source", "p", "max_steps"} else "gradual"


class Branch:
    """One timeline. Attributes are read from the store on each access, so a handle stays
    current while the branch runs."""

    def __init__(self, sandbox: Sandbox, branch_id: str) -> None:
        self._sandbox = sandbox
        self.id = branch_id

    # -- what it is ------------------------------------------------------------------------
    @property
    def record(self) -> BranchRecord:
        """The stored row: parent, fork point, seed, status, head."""
        return self._sandbox.store.get_branch(self.id)

    @property
    def status(self) -> str:
        """``idle``, ``running``, ``paused``, ``done`` or ``failed``."""
        return self.record.status.value

    @property
    def head_step(self) -> int:
        """The last completed step."""
        return self.record.head_step

    @property
    def seed(self) -> int:
        return self.record.seed

    @property
    def label(self) -> str:
        return self.record.label

    @property
    def parent(self) -> Branch | None:
        parent_id = self.record.parent_id
        return None if parent_id is None else Branch(self._sandbox, parent_id)

    @property
    def failure(self) -> Failure | None:
        """Why its last run failed (type, detail, step), while it is ``failed``."""
        return self.record.failure

    @property
    def scenario(self) -> Scenario:
        store = self._sandbox.store
        return scenario_from(store.get_scenario(self.record.scenario_id))

    def __repr__(self) -> str:
        b = self.record
        return f"<Branch {b.id} {b.label!r} {b.status.value} at step {b.head_step}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Branch) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    # -- reading ---------------------------------------------------------------------------
    def events(self, *, from_step: int | None = None, to_step: int | None = None) -> Events:
        """Its events (the ancestors' up to the fork, then its own), optionally of steps
        ``from_step..to_step`` (inclusive)."""
        store = self._sandbox.store
        return Events(store.events(self.id, from_step=from_step, to_step=to_step))

    def state(self, at: int | None = None) -> State:
        """World and agents after step ``at`` (default: the head)."""
        return state_at(self._sandbox.store, self.id, at)

    def outcomes(self, at: int | None = None) -> Outcomes:
        """Every declared outcome after step ``at`` (default: the head)."""
        return Outcomes(self.id, compute_outcomes(self.scenario, self.state(at)))

    def compare(self, other: Branch | str) -> Comparison:
        """Where this branch and ``other`` diverge, their outcomes side by side and the
        divergence per step (``aegntix compare``)."""
        other_id = self._sandbox.branch(other).id if isinstance(other, str) else other.id
        return compare(self._sandbox.store, self.id, other_id)

    # -- changing --------------------------------------------------------------------------
    def run(self, steps: int | None = None) -> Branch:
        """Run ``steps`` more steps (default: to the end); returns this branch."""
        self._sandbox.run_branch(self.id, steps)
        return self

    def fork(
        self,
        at: int,
        inject: str | None = None,
        *,
        strategy: str | None = None,
        targets: Sequence[str] | None = None,
        schedule: Mapping[str, Any] | None = None,
        stance: float | None = None,
        world: Mapping[str, Any] | None = None,
        urgency: float = 0.5,
        seed: int | None = None,
        label: str | None = None,
    ) -> Branch:
        """A new branch after step ``at`` (one row; nothing copied), optionally with text
        injected before its next step: ``strategy`` ``direct`` (to ``targets`` only),
        ``broadcast`` or ``gradual`` (``schedule={"steps": k}`` or ``{"waves": [{"offset",
        "agents"}]}``; ``aegntix.inject.STRATEGIES`` lists them all), ``stance`` the
        direction it argues (-1..1), ``world`` facts it sets.
        Not run: call ``.run()`` on it."""
        spec = injection_spec(
            inject,
            strategy=strategy,
            targets=targets,
            stance=stance,
            world=world,
            urgency=urgency,
            schedule=schedule,
        )
        made = self._sandbox.fork_branch(self.id, at, spec, seed=seed, label=label)
        return Branch(self._sandbox, made)

    def rollouts(
        self,
        at: int,
        n: int,
        inject: str | None = None,
        *,
        strategy: str | None = None,
        targets: Sequence[str] | None = None,
        schedule: Mapping[str, Any] | None = None,
        stance: float | None = None,
        world: Mapping[str, Any] | None = None,
        urgency: float = 0.5,
        seed_base: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_progress: ProgressCallback | None = None,
    ) -> RolloutSet:
        """``n`` futures forked after step ``at``, each with its own derived seed, run to
        the end (blocks until done). With ``inject``, also a control set with the same
        seeds and no injection, for paired statistics. ``on_progress(set_id, done,
        total)`` is called as members finish."""
        spec = injection_spec(
            inject,
            strategy=strategy,
            targets=targets,
            stance=stance,
            world=world,
            urgency=urgency,
            schedule=schedule,
        )
        return self._sandbox.create_rollouts(
            self.id,
            at,
            n,
            spec,
            seed_base=seed_base,
            concurrency=concurrency,
            on_progress=on_progress,
        )
