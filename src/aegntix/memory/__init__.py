"""Persistent agents: memory stream, retrieval, reflection, persona drift (DESIGN §4)."""
