"""``python -m aegntix`` is the CLI."""

from aegntix.entry import main

main()
