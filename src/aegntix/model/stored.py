"""Stored scenarios read back once: :func:`scenario_from` parses a record's spec (with
:func:`~aegntix.model.scenario.stored_scenario`, which skips rules added after it was
stored) and caches the result by the spec's hash, so the many readers of one branch's
scenario (the runner, injections, memory queries, rollout statistics, the API) share one
parse. ``Scenario`` is frozen, so sharing it is safe.

Spec versions: each stored scenario records the schema version its spec was written for
(``scenarios.spec_version``, 1 for rows stored before it was recorded). When a schema change
needs old specs rewritten, bump :data:`SPEC_VERSION` and add the step to ``UPGRADES``
(version n → n + 1, a pure function on the JSON); :func:`scenario_from` applies the steps
before validating, so old timelines stay readable. A spec newer than this program is refused
with a clear error rather than misread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aegntix.errors import ScenarioInvalid
from aegntix.model.events import Branch, ScenarioRecord
from aegntix.model.scenario import Scenario, stored_scenario

if TYPE_CHECKING:  # model/ sits below timeline/: the protocol is for the annotation only
    from aegntix.timeline.store import Store

SPEC_VERSION = 1

Upgrade = Callable[[dict[str, Any]], dict[str, Any]]
#: version n -> the function that rewrites a version-n spec as version n + 1.
UPGRADES: dict[int, Upgrade] = {}

_CAPACITY = 512
_parsed: OrderedDict[tuple[str, int], Scenario] = OrderedDict()
_lock = threading.Lock()


def upgraded(
    spec: dict[str, Any],
    version: int = 1,
    *,
    current: int = SPEC_VERSION,
    steps: dict[int, Upgrade] | None = None,
) -> dict[str, Any]:
    """``spec`` (stored at ``version``) rewritten for ``current`` through ``steps``
    (default: this program's :data:`SPEC_VERSION` and ``UPGRADES``)."""
    table = UPGRADES if steps is None else steps
    if not isinstance(version, int) or not 1 <= version <= current:
        raise ScenarioInvalid(
            f"stored with spec version {version}; this AegntiX reads versions 1 to {current}"
            " (upgrade AegntiX to read it)",
            field="spec_version",
        )
    while version < current:
        step = table.get(version)
        if step is None:  # a bumped SPEC_VERSION without its step is a bug, said plainly
            raise ScenarioInvalid(
                f"no upgrade from spec version {version} to {version + 1}",
                field="spec_version",
            )
        spec = step(spec)
        version += 1
    return spec


def scenario_from(record: ScenarioRecord) -> Scenario:
    """The scenario a stored record holds, upgraded to today's spec version (parsed once
    per spec hash and version in this process)."""
    key = (record.spec_hash, record.spec_version)
    with _lock:
        hit = _parsed.get(key)
        if hit is not None:
            _parsed.move_to_end(key)
            return hit
    scenario = stored_scenario(upgraded(record.spec, record.spec_version))
    with _lock:
        _parsed[key] = scenario
        while len(_parsed) > _CAPACITY:
            _parsed.popitem(last=False)
    return scenario


def scenario_of(store: Store, branch: Branch | str) -> Scenario:
    """The scenario ``branch`` (or the branch with that id) runs."""
    found = store.get_branch(branch) if isinstance(branch, str) else branch
    return scenario_from(store.get_scenario(found.scenario_id))
