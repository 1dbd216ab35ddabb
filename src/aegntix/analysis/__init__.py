"""Analysis of rollout sets: summaries, intervention effects, per-step bands and split steps
(:mod:`aegntix.analysis.stats`)."""

from aegntix.analysis.stats import (
    Bands,
    Effect,
    Split,
    StepSplit,
    Summary,
    agent_effects,
    bands,
    paired_effect,
    split_step,
    summarize,
    unpaired_effect,
)

__all__ = [
    "Bands",
    "Effect",
    "Split",
    "StepSplit",
    "Summary",
    "agent_effects",
    "bands",
    "paired_effect",
    "split_step",
    "summarize",
    "unpaired_effect",
]
