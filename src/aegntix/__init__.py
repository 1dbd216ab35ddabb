"""AegntiX: reality sandboxes — event-sourced multi-agent scenarios you can fork and compare."""

__version__ = "0.1.0"
