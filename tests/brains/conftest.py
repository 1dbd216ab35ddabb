"""Fixtures for brain tests: the observation builders of :mod:`tests.brains.builders`."""

from __future__ import annotations

import pytest

from tests.brains.builders import (
    MakeAgent,
    MakeEvent,
    MakeObs,
    make_agent,
    make_event,
    make_observation,
)


@pytest.fixture(scope="session")
def agent() -> MakeAgent:
    return make_agent


@pytest.fixture(scope="session")
def event() -> MakeEvent:
    return make_event


@pytest.fixture(scope="session")
def observe() -> MakeObs:
    return make_observation
