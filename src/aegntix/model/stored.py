"""Stored scenarios read back once: :func:`scenario_from` parses a record's spec (with
:func:`~aegntix.model.scenario.stored_scenario`, which skips rules added after it was
stored) and caches the result by the spec's hash, so the many readers of one branch's
scenario (the runner, injections, memory queries, rollout statistics, the API) share one
parse. ``Scenario`` is frozen, so sharing it is safe.

Spec versions: every spec stored so far is version 1 (:data:`SPEC_VERSION`); the database
does not record a version yet. When a schema change needs old specs rewritten, record the
version with the scenario, bump :data:`SPEC_VERSION` and add the step to ``_UPGRADES``
(version n → n + 1, pure functions on the JSON); :func:`scenario_from` applies them before
validating, so old timelines stay readable.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aegntix.model.events import Branch, ScenarioRecord
from aegntix.model.scenario import Scenario, stored_scenario

if TYPE_CHECKING:  # model/ sits below timeline/: the protocol is for the annotation only
    from aegntix.timeline.store import Store

SPEC_VERSION = 1

#: version n -> the function that rewrites a version-n spec as version n + 1.
_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

_CAPACITY = 512
_parsed: OrderedDict[str, Scenario] = OrderedDict()
_lock = threading.Lock()


def upgraded(spec: dict[str, Any], version: int = 1) -> dict[str, Any]:
    """``spec`` (stored at ``version``) rewritten for :data:`SPEC_VERSION`."""
    while version < SPEC_VERSION:
        spec = _UPGRADES[version](spec)
        version += 1
    return spec


def scenario_from(record: ScenarioRecord) -> Scenario:
    """The scenario a stored record holds (parsed once per spec hash in this process)."""
    with _lock:
        hit = _parsed.get(record.spec_hash)
        if hit is not None:
            _parsed.move_to_end(record.spec_hash)
            return hit
    scenario = stored_scenario(upgraded(record.spec))
    with _lock:
        _parsed[record.spec_hash] = scenario
        while len(_parsed) > _CAPACITY:
            _parsed.popitem(last=False)
    return scenario


def scenario_of(store: Store, branch: Branch | str) -> Scenario:
    """The scenario ``branch`` (or the branch with that id) runs."""
    found = store.get_branch(branch) if isinstance(branch, str) else branch
    return scenario_from(store.get_scenario(found.scenario_id))
