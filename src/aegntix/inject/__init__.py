"""Injections: context put into a branch (direct or broadcast), recorded as events."""

from aegntix.inject.preview import Preview, preview
from aegntix.inject.strategies import Injected, Strategy, inject

__all__ = ["Injected", "Preview", "Strategy", "inject", "preview"]
