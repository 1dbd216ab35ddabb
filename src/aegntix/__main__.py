"""``python -m aegntix`` is the CLI."""

from aegntix.cli import main

main()
