"""The engine: runs branches step by step (``Runner``), many at once (``Scheduler``)."""

from aegntix.engine.runner import Runner, RunSummary, StepResult, start_scenario
from aegntix.engine.scheduler import Scheduler

__all__ = ["RunSummary", "Runner", "Scheduler", "StepResult", "start_scenario"]
