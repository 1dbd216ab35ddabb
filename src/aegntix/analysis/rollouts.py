"""Rollout sets: from one future to a distribution of futures (issue 11).

A set forks N members from one point (a branch and a step), each with its own derived seed,
optionally injects the same context into each (exactly as ``fork --inject`` does), and runs
them to termination concurrently. A set with an injection is paired with a control set from
the same point with the same seeds and no injection (common random numbers).

Creating writes the set record first, then its members one by one; ``continue`` creates the
members a crash left out and runs only the unfinished ones; ``extend`` raises N and does the
same, so the first N are never touched again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aegntix.analysis.leased import Held, run_leased
from aegntix.analysis.parallel import run_in_processes, shared_database
from aegntix.analysis.produced import read_set
from aegntix.analysis.records import (
    Member,
    RolloutRepository,
    RolloutSet,
    SetStatus,
    SqlRollouts,
    check_n,
    default_seed_base,
)
from aegntix.engine.runner import StepCallback
from aegntix.engine.scheduler import Scheduler
from aegntix.errors import ForkOutOfRange, InvalidRequest, reason_of
from aegntix.inject.strategies import inject, validated
from aegntix.model.events import Branch, BranchStatus, EventKind
from aegntix.model.outcomes import compute_outcomes
from aegntix.model.state import STEP_END
from aegntix.model.stored import scenario_from
from aegntix.timeline.prepare import check_seed
from aegntix.timeline.state import state_at
from aegntix.timeline.store import Store

#: Steps in flight at once while a set runs (a step holds a slot while its brains decide).
DEFAULT_CONCURRENCY = 32

#: ``on_progress(set_id, members done, members total)``, called in the event loop.
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class InjectionSpec:
    """What every member of an intervention set receives (any strategy ``inject`` knows)."""

    content: str
    strategy: str = "broadcast"
    targets: Sequence[str] | None = None
    fields: Mapping[str, Any] | None = None
    world: Mapping[str, Any] | None = None
    urgency: float = 0.5
    schedule: Mapping[str, Any] | None = None  # a gradual injection's (inject/kinds.py)

    def as_json(self) -> dict[str, Any]:
        spec = {
            "content": self.content,
            "strategy": self.strategy,
            "targets": sorted(self.targets) if self.targets else None,
            "fields": dict(self.fields or {}),
            "world": dict(self.world or {}),
            "urgency": self.urgency,
        }
        return spec if self.schedule is None else {**spec, "schedule": dict(self.schedule)}

    def options(self) -> dict[str, Any]:
        """The keyword arguments ``inject`` and ``validated`` take besides the content."""
        return {
            "targets": self.targets,
            "strategy": self.strategy,
            "fields": self.fields,
            "world": self.world,
            "urgency": self.urgency,
            "schedule": self.schedule,
        }

    @classmethod
    def from_json(cls, spec: Mapping[str, Any]) -> InjectionSpec:
        """The injection a set recorded (``as_json``)."""
        return cls(
            spec["content"],
            spec.get("strategy", "broadcast"),
            spec.get("targets"),
            spec.get("fields"),
            spec.get("world") or None,
            float(spec.get("urgency", 0.5)),
            spec.get("schedule"),
        )


def fork_with(
    store: Store,
    parent_id: str,
    at_step: int,
    injection: InjectionSpec | None,
    *,
    seed: int | None,
    label: str | None,
) -> Branch:
    """A new branch after ``at_step``: a plain fork, or with ``injection`` as its first
    event (validated before anything is written, as ``fork --inject``)."""
    if injection is None:
        return store.fork(parent_id, at_step, seed=seed, label=label)
    return inject(
        store,
        parent_id,
        injection.content,
        **injection.options(),
        at_step=at_step,
        new_branch=True,
        label=label,
        seed=seed,
    ).branch


def repository(store: Store) -> SqlRollouts:
    """The rollout sets of ``store``'s tenant."""
    return SqlRollouts.of(store)


# -- creating ------------------------------------------------------------------------------
def create_set(
    store: Store,
    parent_id: str,
    at_step: int,
    n: int,
    injection: InjectionSpec | None = None,
    *,
    seed_base: int | None = None,
    repo: RolloutRepository | None = None,
    fork: bool = True,
) -> RolloutSet:
    """Record a set (and, with an injection, its control: reused if one exists for the same
    point and seed base) and fork its members (with ``fork=False`` only record them: fork
    later with :func:`ensure_members`). Nothing runs yet: see :func:`run_sets`.
    Everything is validated before anything is written."""
    repo = repo or repository(store)
    check_n(n)
    parent = store.get_branch(parent_id)
    if not 0 <= at_step <= parent.head_step:
        raise ForkOutOfRange(
            f"at_step: {at_step} is outside branch {parent_id}'s steps 0..{parent.head_step}"
        )
    if seed_base is not None:
        check_seed(seed_base, "seed_base")
    base = (
        seed_base
        if seed_base is not None
        else default_seed_base(parent.seed, _hash_at(store, parent.id, at_step), at_step)
    )
    payload: dict[str, Any] | None = None
    if injection is not None:
        scenario = scenario_from(store.get_scenario(parent.scenario_id))
        validated(scenario, injection.content, **injection.options())
        payload = injection.as_json()
    made = repo.create(
        scenario_id=parent.scenario_id,
        parent_id=parent.id,
        fork_step=at_step,
        injection=payload,
        n=n,
        seed_base=base,
    )
    if payload is not None:
        control = repo.find_control(parent.id, at_step, base)
        if control is None:
            control = repo.create(
                scenario_id=parent.scenario_id,
                parent_id=parent.id,
                fork_step=at_step,
                injection=None,
                n=n,
                seed_base=base,
            )
        elif control.n < n:
            control = repo.update(control.id, n=n)
        made = repo.update(made.id, control_id=control.id)
        if fork:
            ensure_members(store, repo, control)
    if fork:
        ensure_members(store, repo, made)
    return made


def _hash_at(store: Store, branch_id: str, step: int) -> str:
    """The hash of the last event with ``step <= step`` ("" before the first)."""
    seq = store.seq_at_step(branch_id, step)
    if seq == 0:
        return ""
    return next(iter(store.events(branch_id, from_seq=seq, to_seq=seq))).hash


def ensure_members(
    store: Store,
    repo: RolloutRepository,
    rollout: RolloutSet,
    *,
    on_member: Callable[[int], None] | None = None,
) -> list[Member]:
    """Fork the members ``0..n-1`` the set does not have yet (after a crash or ``extend``);
    ``on_member(members the set has)`` after each one."""
    have = {m.index for m in repo.members(rollout.id)}
    count = len(have)
    for i in range(rollout.n):
        if i in have:
            continue
        seed = rollout.seed(i)
        label = f"rollout {rollout.id[:8]}#{i}"
        spec = rollout.injection
        injection = None if spec is None else InjectionSpec.from_json(spec)
        branch = fork_with(
            store, rollout.parent_id, rollout.fork_step, injection, seed=seed, label=label
        )
        repo.add_member(rollout.id, Member(i, branch.id, seed))
        count += 1
        if on_member is not None:
            on_member(count)
    return repo.members(rollout.id)


def extend_set(
    store: Store,
    set_id: str,
    to: int,
    *,
    repo: RolloutRepository | None = None,
    fork: bool = True,
) -> RolloutSet:
    """Raise N to ``to`` (its control too): members ``n..to-1`` get the same seed formula,
    the existing ones are left exactly as they are (``fork=False``: fork them later with
    :func:`ensure_members`)."""
    repo = repo or repository(store)
    rollout = repo.get(set_id)
    check_n(to, "to")
    if to < rollout.n:
        raise InvalidRequest(f"to: {to} is below the set's current size {rollout.n}")
    rollout = repo.update(set_id, n=to)
    if rollout.control_id is not None:
        control = repo.get(rollout.control_id)
        if control.n < to:
            control = repo.update(control.id, n=to)
        if fork:
            ensure_members(store, repo, control)
    if fork:
        ensure_members(store, repo, rollout)
    return rollout


def with_control(repo: RolloutRepository, set_id: str) -> list[RolloutSet]:
    """The set, then its control (if any): what runs together."""
    rollout = repo.get(set_id)
    return [rollout] + ([repo.get(rollout.control_id)] if rollout.control_id else [])


# -- running -------------------------------------------------------------------------------
def finished(store: Store, member: Member) -> bool:
    return store.get_branch(member.branch_id).status is BranchStatus.DONE


def progress(repo: RolloutRepository, set_id: str) -> tuple[int, int]:
    """(members done, members in the set)."""
    statuses = repo.member_statuses(set_id).values()
    return sum(1 for s in statuses if s == BranchStatus.DONE.value), repo.get(set_id).n


def fail_sets(repo: RolloutRepository, set_ids: Sequence[str], error: BaseException) -> None:
    """The sets failed, and why: kept with each set, so every replica's API and UI (and a
    restarted server) tell it."""
    for set_id in set_ids:
        repo.update(set_id, status=SetStatus.FAILED, error=reason_of(error))


def settle(repo: RolloutRepository, set_id: str, *, elsewhere: bool = False) -> RolloutSet:
    """Record the status the members' branches imply (after a run ends or stops).
    ``elsewhere``: some members were left to another live runner; while one still runs the
    set stays ``running`` (that runner settles it when it ends)."""

    def decide(n: int, statuses: list[str]) -> SetStatus:
        if len(statuses) == n and all(s == BranchStatus.DONE.value for s in statuses):
            return SetStatus.DONE
        if any(s == BranchStatus.FAILED.value for s in statuses):
            return SetStatus.FAILED
        if elsewhere and BranchStatus.RUNNING.value in statuses:
            return SetStatus.RUNNING
        return SetStatus.PARTIAL

    return repo.settle(set_id, decide)


async def run_sets(
    store: Store,
    sets: Sequence[RolloutSet],
    *,
    repo: RolloutRepository | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_progress: ProgressCallback | None = None,
    on_step: StepCallback | None = None,
    processes: int | None = None,
    on_held: Callable[[Held], None] | None = None,
) -> list[RolloutSet]:
    """Run every unfinished member of ``sets`` to termination, concurrently (one scheduler,
    ``concurrency`` steps in flight). A member that fails does not stop the others; each
    set's status is settled at the end, also when interrupted.

    ``processes`` > 1 splits the members across that many worker processes on the same
    database (a SQLite file or PostgreSQL, ``parallel``), ``concurrency`` steps in flight in
    each; ``on_step`` then cannot be called (steps happen in other processes). None or 1,
    or another store: in this process, as before.

    Members other runners hold are reported through ``on_held``: those of a runner that died
    are taken over once their leases lapse (within one TTL); those a live runner renews are
    left to it, and their set stays ``running``."""
    repo = repo or repository(store)
    path = shared_database(store) if processes is not None and processes > 1 else None
    if path is not None and on_step is not None:
        raise InvalidRequest("processes: on_step needs the members run in-process (1)")
    scheduler = Scheduler(store, concurrency=concurrency, on_step=on_step)
    done: dict[str, int] = {}
    totals = {s.id: s.n for s in sets}
    tasks: list[asyncio.Task[Any]] = []
    work: list[tuple[str, str]] = []

    elsewhere: set[str] = set()  # branch ids left to live runners

    def member_done(set_id: str) -> None:
        done[set_id] += 1
        if on_progress is not None:
            on_progress(set_id, done[set_id], totals[set_id])

    def held(report: Held) -> None:
        elsewhere.update(report.elsewhere)
        if on_held is not None:
            on_held(report)

    try:
        for rollout in sets:
            repo.update(rollout.id, status=SetStatus.RUNNING)
            members = repo.members(rollout.id)
            statuses = repo.member_statuses(rollout.id)
            pending = [m for m in members if statuses.get(m.index) != BranchStatus.DONE.value]
            done[rollout.id] = len(members) - len(pending)
            if on_progress is not None:
                on_progress(rollout.id, done[rollout.id], rollout.n)
            work.extend((rollout.id, m.branch_id) for m in pending)
        if path is not None and work:
            assert processes is not None
            await run_in_processes(
                store,
                path,
                work,
                processes=processes,
                concurrency=concurrency,
                on_member_done=member_done,
                on_held=held,
            )
        elif work:  # in this process, each member under its lease
            task = asyncio.create_task(run_leased(store, scheduler, work, member_done, held))
            tasks.append(task)
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        left = {set_id for set_id, branch_id in work if branch_id in elsewhere}
        settled = [settle(repo, s.id, elsewhere=s.id in left) for s in sets]
    return settled


# -- what the sets produced (stats consume these) ------------------------------------------
def set_outcomes(store: Store, set_id: str) -> dict[str, list[Any]]:
    """Each outcome's final value per member, in member (= seed) order; ``None`` for a
    member that has not finished. An intervention set's lists pair index by index with its
    control's (same seeds)."""
    repo = repository(store)
    rollout = repo.get(set_id)
    scenario = scenario_from(store.get_scenario(rollout.scenario_id))
    values: dict[str, list[Any]] = {name: [] for name in scenario.outcomes}
    for member in repo.members(set_id):
        outcomes: Mapping[str, Any] = {}
        if finished(store, member):
            outcomes = compute_outcomes(scenario, state_at(store, member.branch_id))
        for name, column in values.items():
            column.append(outcomes.get(name))
    return values


def set_series(store: Store, set_id: str) -> dict[str, list[list[Any]]]:
    """Each outcome step by step per member: ``series[outcome][i][k]`` is member ``i``'s
    value after step ``k + 1`` (as its ``step_end`` recorded it, inherited steps included).
    Members that terminated early have shorter lists."""
    repo = repository(store)
    rollout = repo.get(set_id)
    scenario = scenario_from(store.get_scenario(rollout.scenario_id))
    series: dict[str, list[list[Any]]] = {name: [] for name in scenario.outcomes}
    for member in repo.members(set_id):
        rows: dict[str, list[Any]] = {name: [] for name in series}
        head = store.get_branch(member.branch_id).head_seq
        for event in store.events(member.branch_id, to_seq=head):
            if event.kind is EventKind.SYSTEM and event.payload.get("type") == STEP_END:
                recorded = event.payload.get("outcomes") or {}
                for name, row in rows.items():
                    row.append(recorded.get(name))
        for name, per_member in series.items():
            per_member.append(rows[name])
    return series


def members_view(store: Store, set_id: str) -> list[dict[str, Any]]:
    """Each member with its branch's status, head and (if finished) outcomes (read in one
    pass, see ``produced``)."""
    repo = repository(store)
    heads = repo.member_heads(set_id)
    finals = read_set(store, repo, set_id, heads).finals
    return [
        {
            "index": head.index,
            "branch_id": head.branch_id,
            "seed": head.seed,
            "status": head.status,
            "head_step": head.head_step,
            "head_hash": head.head_hash,
            "outcomes": None if final is None else dict(final),
        }
        for head, final in zip(heads, finals, strict=True)
    ]


def set_json(store: Store, rollout: RolloutSet) -> dict[str, Any]:
    """The set with its progress (members done / total)."""
    done, total = progress(repository(store), rollout.id)
    return {**rollout.as_json(), "progress": {"done": done, "total": total}}
