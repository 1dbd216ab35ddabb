"""Swarms: who hears whom (topologies) and what each agent sees (visibility)."""

from aegntix.swarm.topology import Topology, build
from aegntix.swarm.visibility import Visibility

__all__ = ["Topology", "Visibility", "build"]
