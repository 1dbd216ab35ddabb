"""The offline rules brain: deterministic given its rng, no network, sub-millisecond.

See ``docs/rules-brain.md`` for the models and how personas and injections map onto them.
"""

from aegntix.brains.rules.brain import RulesBrain, decide, mode

__all__ = ["RulesBrain", "decide", "mode"]
