"""Injections: context put into a branch (direct or broadcast), recorded as events."""

from aegntix.inject.strategies import Injected, Strategy, inject

__all__ = ["Injected", "Strategy", "inject"]
