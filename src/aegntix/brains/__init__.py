"""Brains: how agents decide. ``rules`` is the offline default."""

from aegntix.brains.base import Brain, Decision, Observation, VisibleEvent

__all__ = ["Brain", "Decision", "Observation", "VisibleEvent"]
