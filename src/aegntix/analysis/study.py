"""What a rollout set says: each outcome's distribution across its futures, and — against its
paired control (same seeds) or any other set — the effect with its interval, in words.

The glue between the records (``rollouts``) and the statistics (``stats``, ``series``): it
picks the values each statistic takes (finished members only; pairs where both finished) and
says which comparison it made (``paired`` with the set's own control, ``unpaired`` otherwise).
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from scipy import stats as scipy_stats

from aegntix.analysis.produced import Produced, read_set
from aegntix.analysis.records import MemberHead
from aegntix.analysis.rollouts import repository
from aegntix.analysis.series import bands, split_step
from aegntix.analysis.stats import agent_effects, paired_effect, summarize, unpaired_effect
from aegntix.errors import InvalidRequest
from aegntix.model.stored import scenario_from
from aegntix.timeline.store import Store


def _kind(values: Sequence[Any]) -> str | None:
    """ "yes/no", "number", "per agent" (a mapping of numbers) or None (nothing to count)."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if all(isinstance(v, bool) for v in present):
        return "yes/no"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "number" if all(math.isfinite(float(v)) for v in present) else None
    if all(isinstance(v, dict) for v in present):
        return "per agent"
    return None


def _numbers(values: Sequence[Any]) -> list[float | bool]:
    return [v for v in values if v is not None]


#: Computed statistics by (tenant, set, vs, seed, both sets' member heads): a repeated
#: request for sets that have not changed is answered without reading or computing again.
_CACHE: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
CACHE_SIZE = 64


def set_stats(store: Store, set_id: str, *, vs: str | None = None, seed: int = 0) -> dict[str, Any]:
    """Per outcome: the set's summary; with a comparison set (``vs``, else the set's own
    control) the effect of the difference between them. A paired comparison (the control
    with the same seeds) uses only pairs where both members finished."""
    repo = repository(store)
    rollout = repo.get(set_id)
    other_id = vs or rollout.control_id
    if other_id is not None:
        other = repo.get(other_id)
        if (other.parent_id, other.fork_step) != (rollout.parent_id, rollout.fork_step):
            raise InvalidRequest(
                f"vs: set {other.id} starts from another point "
                f"({other.parent_id} at step {other.fork_step})"
            )
    heads = repo.member_heads(set_id)
    other_heads = repo.member_heads(other_id) if other_id else []
    # A head hash chains every event before it (the scenario's spec hash included): same
    # heads and statuses, same data.
    key = (repo.tenant_id, set_id, other_id, seed, _state(heads), _state(other_heads))
    hit = _CACHE.get(key)
    if hit is None:
        mine = read_set(store, repo, set_id, heads)
        theirs = read_set(store, repo, other_id, other_heads) if other_id else None
        paired = other_id is not None and other_id == rollout.control_id
        hit = _stats(set_id, other_id, paired, mine, theirs, seed)
        hit["notes"] = _notes(store, rollout.scenario_id, hit)
        _CACHE[key] = hit
        if len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return copy.deepcopy(hit)  # the caller's to change


#: Said when every future ended alike and the scenario's brains draw almost no chance.
ALIKE_NOTE = (
    "Every future ended with the same yes/no outcomes: this scenario's agents use the rules "
    "brain at temperature 0, where chance decides only who speaks when. Set "
    "`brain: {kind: rules, temperature: 0.5}` in the scenario for futures that differ by "
    "chance (docs/rules-brain.md)."
)


def _notes(store: Store, scenario_id: str, found: dict[str, Any]) -> list[str]:
    """Plain-language caveats a reader needs before trusting the numbers."""
    yes_no = [e for e in found["outcomes"].values() if e.get("kind") == "yes/no"]
    summaries = [e["summary"] for e in yes_no if e.get("summary")]
    summaries += [e["effect"]["control"] for e in yes_no if (e.get("effect") or {}).get("control")]
    if not summaries or any(s.get("mean") not in (0.0, 1.0) for s in summaries):
        return []
    scenario = scenario_from(store.get_scenario(scenario_id))
    brains = [scenario.brain_for(agent) for agent in scenario.agents]
    if all(b.kind == "rules" and b.temperature == 0.0 for b in brains):
        return [ALIKE_NOTE]
    return []


def _state(heads: Sequence[MemberHead]) -> tuple[tuple[int, str, str, str], ...]:
    return tuple((h.index, h.branch_id, h.head_hash, h.status) for h in heads)


def _stats(
    set_id: str,
    other_id: str | None,
    paired: bool,
    produced: Produced,
    compared: Produced | None,
    seed: int,
) -> dict[str, Any]:
    mine = produced.outcomes
    theirs = compared.outcomes if compared is not None else {}
    out: dict[str, Any] = {
        "set_id": set_id,
        "vs": other_id,
        "comparison": None if other_id is None else ("paired" if paired else "unpaired"),
        "outcomes": {},
    }
    # Every effect is independent and seeded alike, so computing them on threads gives the
    # same values; NumPy and SciPy release the GIL while resampling, so both cores work.
    entries: dict[str, Future[dict[str, Any]] | dict[str, Future[Any]] | None] = {}
    with _quiet_pool() as pool:
        for name, values in mine.items():
            kind = _kind(values)
            if kind in ("yes/no", "number"):
                against = other_id is not None and _kind(theirs.get(name, [])) == kind
                entries[name] = pool.submit(
                    _entry, name, kind, values, theirs.get(name, []), against, paired, seed
                )
            elif kind == "per agent" and paired:
                entries[name] = _agents(pool, values, theirs.get(name, []), seed)
            else:
                entries[name] = None
        for name, values in mine.items():
            found = entries[name]
            if isinstance(found, Future):
                out["outcomes"][name] = found.result()
            elif isinstance(found, dict):
                out["outcomes"][name] = {
                    "kind": "per agent",
                    "agents": {agent: f.result() for agent, f in found.items()},
                }
            else:
                out["outcomes"][name] = {"kind": _kind(values)}
    numeric = [n for n, v in mine.items() if _kind(v) == "number"]
    if numeric:
        a = _numeric_series(produced.series, numeric)
        b = _numeric_series(compared.series, numeric) if compared is not None else {}
        out["bands"] = {
            name: {"set": _bands(a[name]), "vs": _bands(b[name]) if b.get(name) else None}
            for name in numeric
            if a[name]
        }
        if other_id is not None:
            out["split"] = {
                name: _as_steps(split_step(a[name], b[name]).json())
                for name in numeric
                if a[name] and b.get(name)
            }
    elif other_id is not None:
        out["split"] = {}
    return out


def _effect(name: str, a: Sequence[Any], b: Sequence[Any], paired: bool, seed: int) -> Any:
    if paired:
        pairs = [(x, y) for x, y in zip(a, b, strict=False) if x is not None and y is not None]
        if not pairs:
            return None
        treated, control = [p[0] for p in pairs], [p[1] for p in pairs]
        return paired_effect(treated, control, name=name, seed=seed).json()
    left, right = _numbers(a), _numbers(b)
    if not left or not right:
        return None
    return unpaired_effect(left, right, name=name, seed=seed).json()


def _entry(
    name: str,
    kind: str,
    values: Sequence[Any],
    others: Sequence[Any],
    against: bool,
    paired: bool,
    seed: int,
) -> dict[str, Any]:
    """A number or yes/no outcome: its summary, then (the summary cached) the effect."""
    entry: dict[str, Any] = {"kind": kind, "summary": summarize(_numbers(values), seed=seed).json()}
    if against:
        entry["effect"] = _effect(name, values, others, paired, seed)
    return entry


def _agents(
    pool: ThreadPoolExecutor, a: Sequence[Any], b: Sequence[Any], seed: int
) -> dict[str, Future[Any]]:
    """Each agent's paired effect, started on ``pool``, in agent order."""
    pairs = [
        (x, y) for x, y in zip(a, b, strict=False) if isinstance(x, dict) and isinstance(y, dict)
    ]
    agents = sorted(set.intersection(*(set(x) & set(y) for x, y in pairs))) if pairs else []
    treated = {k: [float(x[k]) for x, _ in pairs] for k in agents}
    control = {k: [float(y[k]) for _, y in pairs] for k in agents}

    def one(agent: str) -> Any:
        effects = agent_effects({agent: treated[agent]}, {agent: control[agent]}, seed=seed)
        return effects[agent].json()

    return {agent: pool.submit(one, agent) for agent in agents}


@contextmanager
def _quiet_pool() -> Iterator[ThreadPoolExecutor]:
    """A thread per core, with the warnings the resampling silences silenced around it too:
    the threads' own ``catch_warnings`` blocks interleave, and this one restores the
    filters once they are done."""
    with warnings.catch_warnings(), ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        warnings.simplefilter("ignore", scipy_stats.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        yield pool


def _numeric_series(
    series: dict[str, list[list[Any]]], names: Sequence[str]
) -> dict[str, list[list[float]]]:
    """Each numeric outcome's per-step values, members with no recorded step left out."""
    found: dict[str, list[list[float]]] = {}
    for name in names:
        rows = [[float(x) for x in row if x is not None] for row in series.get(name, [])]
        found[name] = [r for r in rows if r]
    return found


def _bands(rows: list[list[float]]) -> dict[str, Any]:
    """Percentile bands over steps; ``first_step`` is the step of index 0 (series index k is
    the value after step k + 1)."""
    return {**bands(rows).json(), "first_step": 1}


def _as_steps(split: dict[str, Any]) -> dict[str, Any]:
    """Series index k is the value after step k + 1: report steps, not indexes."""
    for key in ("split_step", "max_step"):
        if split.get(key) is not None:
            split[key] += 1
    for row in split.get("steps", []):
        row["step"] += 1
    return split
