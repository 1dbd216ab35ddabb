"""The Python library surface (``import aegntix``): a :class:`Sandbox` over one timeline
database, handles on its branches and rollout sets, typed statistics, pandas tables.
In-process and local; see docs/python.md."""

from aegntix.client.branch import Branch, Events, Outcomes
from aegntix.client.results import Effect, Summary
from aegntix.client.sandbox import Sandbox
from aegntix.client.sets import Member, RolloutSet

__all__ = [
    "Branch",
    "Effect",
    "Events",
    "Member",
    "Outcomes",
    "RolloutSet",
    "Sandbox",
    "Summary",
]
