"""The ``aegntix`` command's entry point: Ctrl-C while the CLI is still loading (its imports
take a second) exits quietly with 130, as it does once a command runs, not with a traceback."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from aegntix.cli import main as run_cli
    except KeyboardInterrupt:
        sys.exit(130)
    run_cli()
