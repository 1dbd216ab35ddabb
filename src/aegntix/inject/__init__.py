"""Injections: context put into a branch, recorded as events; how it reaches agents is a
strategy object from ``aegntix.inject.registry`` (direct, broadcast, gradual)."""

from aegntix.inject.base import InjectionStrategy
from aegntix.inject.preview import Preview, preview
from aegntix.inject.registry import STRATEGIES, strategy_named
from aegntix.inject.strategies import Injected, inject

__all__ = [
    "STRATEGIES",
    "Injected",
    "InjectionStrategy",
    "Preview",
    "inject",
    "preview",
    "strategy_named",
]
