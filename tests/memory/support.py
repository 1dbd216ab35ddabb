"""Scenarios with memory on, for the memory tests."""

from __future__ import annotations

from typing import Any

from aegntix.model.loading import validate_scenario
from aegntix.model.scenario import Scenario
from tests.support import example


def with_memory(name: str, **memory: Any) -> Scenario:
    """Example ``name`` with the memory stream on (and any ``memory`` settings given)."""
    data = example(name).model_dump(mode="json", exclude_unset=False)
    data["memory"] = {**data.get("memory", {}), "enabled": True, **memory}
    return validate_scenario(data)


def with_profile(name: str, agent_id: str, profile_id: str, **memory: Any) -> Scenario:
    """Example ``name`` whose agent ``agent_id`` is the persistent agent ``profile_id``."""
    data = with_memory(name, **memory).model_dump(mode="json")
    for agent in data["agents"]:
        if agent["id"] == agent_id:
            agent["profile"] = {"id": profile_id}
    return validate_scenario(data)
