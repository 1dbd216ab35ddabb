"""A :class:`RolloutSet` handle: N futures from one point, their members, statistics and
effects (the same numbers as ``aegntix rollouts show`` and ``GET /v1/rollouts/{id}/stats``),
and a members table for pandas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aegntix.analysis.records import RolloutSet as SetRecord
from aegntix.analysis.rollouts import DEFAULT_CONCURRENCY, ProgressCallback, members_view
from aegntix.client.frames import members_frame
from aegntix.client.results import Effect, Summary
from aegntix.errors import InvalidRequest

if TYPE_CHECKING:
    from aegntix.client.branch import Branch
    from aegntix.client.sandbox import Sandbox


@dataclass(frozen=True, slots=True)
class Member:
    """Member ``index`` of a set: its seed and branch, the branch's status and head, and its
    outcomes once it has finished (``None`` before)."""

    index: int
    seed: int
    branch_id: str
    status: str
    head_step: int
    outcomes: dict[str, Any] | None


class RolloutSet:
    """A rollout set. Attributes are read from the store on each access."""

    def __init__(self, sandbox: Sandbox, set_id: str) -> None:
        self._sandbox = sandbox
        self.id = set_id
        self._stats: dict[tuple[Any, ...], dict[str, Any]] = {}

    # -- what it is ------------------------------------------------------------------------
    @property
    def record(self) -> SetRecord:
        return self._sandbox.rollout_records.get(self.id)

    @property
    def n(self) -> int:
        return self.record.n

    @property
    def status(self) -> str:
        """``running``, ``done``, ``failed`` (a member failed) or ``partial`` (stopped with
        members unfinished: ``resume()`` it)."""
        return self.record.status.value

    @property
    def fork_step(self) -> int:
        return self.record.fork_step

    @property
    def parent(self) -> Branch:
        return self._sandbox.branch(self.record.parent_id)

    @property
    def injection(self) -> dict[str, Any] | None:
        """``{content, strategy, targets, fields, world, urgency}``, or ``None``."""
        return self.record.injection

    @property
    def seeds(self) -> list[int]:
        record = self.record
        return [record.seed(i) for i in range(record.n)]

    @property
    def control(self) -> RolloutSet | None:
        """The paired control set (same seeds, no injection), for a set with an injection."""
        control_id = self.record.control_id
        return None if control_id is None else RolloutSet(self._sandbox, control_id)

    def __repr__(self) -> str:
        r = self.record
        what = f"inject {r.injection['content']!r}" if r.injection else "no injection"
        where = f"from {r.parent_id} at step {r.fork_step}"
        return f"<RolloutSet {r.id} n={r.n} {r.status.value} {where}, {what}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RolloutSet) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def members(self) -> list[Member]:
        """Every member in index (= seed) order."""
        return [
            Member(
                m["index"], m["seed"], m["branch_id"], m["status"], m["head_step"], m["outcomes"]
            )
            for m in members_view(self._sandbox.store, self.id)
        ]

    def member(self, index: int) -> Branch:
        """Member ``index``'s branch (open its events, fork it, compare it)."""
        for m in self._sandbox.rollout_records.members(self.id):
            if m.index == index:
                return self._sandbox.branch(m.branch_id)
        raise InvalidRequest(f"index: set {self.id} has members 0..{self.n - 1}, not {index}")

    # -- what it says ----------------------------------------------------------------------
    def stats(self, vs: RolloutSet | str | None = None) -> dict[str, Any]:
        """Per outcome its summary and, against the control (paired) or ``vs`` (another set
        from the same point, unpaired), the effect; per-agent effects, bands, split step.
        Exactly ``GET /v1/rollouts/{id}/stats``. Cached until a member changes."""
        from aegntix.analysis.study import set_stats  # scipy: imported when first used

        other = self._other_id(vs)
        records = self._sandbox.rollout_records
        key: tuple[Any, ...] = (
            other,
            tuple(sorted(records.member_statuses(self.id).items())),
            tuple(sorted(records.member_statuses(other).items())) if other else (),
        )
        if key not in self._stats:
            self._stats = {key: set_stats(self._sandbox.store, self.id, vs=other)}
        return self._stats[key]

    def _other_id(self, vs: RolloutSet | str | None) -> str | None:
        if vs is None:
            return None
        if isinstance(vs, RolloutSet):
            return vs.id
        return self._sandbox.rollout_set(vs).id

    def summary(self, outcome: str) -> Summary:
        """``outcome`` across this set's finished futures: mean (rate), sd, CI, quantiles."""
        entry = self._outcome(outcome, self.stats())
        if "summary" not in entry:
            raise InvalidRequest(
                f"outcome: '{outcome}' is {entry['kind'] or 'not a number or yes/no'}; "
                "summaries are of yes/no and number outcomes"
            )
        return Summary.from_json(outcome, entry["summary"])

    def effect(self, outcome: str, vs: RolloutSet | str | None = None) -> Effect:
        """The intervention's effect on ``outcome`` against the paired control (or ``vs``)."""
        stats = self.stats(vs)
        if stats["vs"] is None:
            raise InvalidRequest(
                f"set {self.id} has no injection, so no control to compare with: "
                "pass vs=ANOTHER_SET from the same point"
            )
        entry = self._outcome(outcome, stats)
        found = entry.get("effect")
        if found is None:
            kind = entry["kind"] or "not a number or yes/no"
            raise InvalidRequest(
                f"outcome: no effect for '{outcome}' ({kind}; effects are of yes/no and "
                "number outcomes that both sets have finished futures for)"
            )
        return Effect.from_json(found)

    def agent_effects(self, outcome: str) -> dict[str, Effect]:
        """A per-agent outcome's paired effect for each agent (e.g. each resident's stance
        shift), against the control."""
        stats = self.stats()
        entry = self._outcome(outcome, stats)
        if entry["kind"] != "per agent":
            raise InvalidRequest(
                f"outcome: '{outcome}' is not a per-agent outcome; use effect('{outcome}')"
            )
        if "agents" not in entry:
            raise InvalidRequest(
                f"set {self.id} has no paired control: per-agent effects compare each member "
                "with its control twin"
            )
        return {agent: Effect.from_json(found) for agent, found in entry["agents"].items()}

    def _outcome(self, outcome: str, stats: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] | None = stats["outcomes"].get(outcome)
        if found is None:
            names = ", ".join(stats["outcomes"]) or "none"
            raise InvalidRequest(f"outcome: no outcome '{outcome}' (the scenario has: {names})")
        return found

    def to_pandas(self) -> Any:
        """One row per member (index ``member``): seed, branch_id, status, head_step, each
        outcome as a column (per agent: ``stance.mayor``); for a paired set the control
        twin's branch, status and outcomes alongside (suffix ``_control``)."""
        store = self._sandbox.store
        control_id = self.record.control_id
        twins = members_view(store, control_id) if control_id else None
        return members_frame(members_view(store, self.id), twins)

    # -- changing --------------------------------------------------------------------------
    def extend(
        self,
        n: int,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_progress: ProgressCallback | None = None,
    ) -> RolloutSet:
        """Grow to ``n`` members (its control too) and run the new ones; the first members
        are not touched. Returns this set."""
        self._sandbox.extend_rollouts(self.id, n, concurrency=concurrency, on_progress=on_progress)
        return self

    def resume(
        self, *, concurrency: int = DEFAULT_CONCURRENCY, on_progress: ProgressCallback | None = None
    ) -> RolloutSet:
        """Run only the unfinished members (after a crash or an interruption), control too
        (``aegntix rollouts continue``). Returns this set."""
        self._sandbox.extend_rollouts(
            self.id, self.n, concurrency=concurrency, on_progress=on_progress
        )
        return self
