"""Everything a report shows, gathered from the store in one place: the set, its scenario,
its members (and those of the set it is compared with) and ``set_stats``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aegntix import __version__
from aegntix.analysis.rollouts import members_view, repository, set_json
from aegntix.analysis.study import set_stats
from aegntix.errors import InvalidRequest
from aegntix.timeline.store import Store


@dataclass(frozen=True, slots=True)
class ReportInput:
    scenario_name: str
    rollout: dict[str, Any]  # set_json of the set
    other: dict[str, Any] | None  # set_json of the set it is compared with
    members: list[dict[str, Any]]
    other_members: list[dict[str, Any]]
    stats: dict[str, Any]
    generated_at: datetime
    version: str

    @property
    def finished(self) -> int:
        return sum(1 for m in self.members if m["status"] == "done")

    @property
    def paired(self) -> bool:
        return self.stats.get("comparison") == "paired"

    def labels(self) -> tuple[str, str]:
        """What to call the set and the one it is compared with, in legends and rows."""
        if self.paired:
            return "with the intervention", "without (control)"
        if self.other is not None:
            return f"this set ({self.rollout['id'][:8]})", f"other set ({self.other['id'][:8]})"
        return "this set", ""


def gather(
    store: Store, set_id: str, *, vs: str | None = None, now: datetime | None = None
) -> ReportInput:
    """The report's content for set ``set_id`` (an exact id) compared with ``vs`` (default:
    its own control, if it has one). Refuses a set with no finished member: there is nothing
    to report yet, and ``rollouts continue`` would fix that."""
    repo = repository(store)
    rollout = repo.get(set_id)
    members = members_view(store, rollout.id)
    if not any(m["status"] == "done" for m in members):
        raise InvalidRequest(
            f"set {rollout.id}: no member has finished yet, nothing to report "
            f"(aegntix rollouts continue {rollout.id})"
        )
    stats = set_stats(store, rollout.id, vs=vs)
    other_id = stats.get("vs")
    other = set_json(store, repo.get(other_id)) if other_id else None
    return ReportInput(
        scenario_name=store.get_scenario(rollout.scenario_id).name,
        rollout=set_json(store, rollout),
        other=other,
        members=members,
        other_members=members_view(store, other_id) if other_id else [],
        stats=stats,
        generated_at=now or datetime.now(UTC),
        version=__version__,
    )
