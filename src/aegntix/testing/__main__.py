"""``python -m aegntix.testing [--port N] [--delay S]``: run the fake model provider."""

from aegntix.testing.fake_llm import main

main()
