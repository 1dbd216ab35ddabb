"""API keys for model providers: from the environment or a secrets file, never from a
scenario, and never written to the database, a log line or an error message.

A secrets file holds ``NAME=value`` lines (``#`` comments, optional quotes, an optional
``export`` prefix). It is ``$AEGNTIX_SECRETS`` if set, else ``~/.config/aegntix/secrets.env``
if it exists. The environment wins over the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from aegntix.errors import ProviderError
from aegntix.model.scenario import BrainConfig

SECRETS_ENV = "AEGNTIX_SECRETS"
DEFAULT_SECRETS = Path("~/.config/aegntix/secrets.env")
#: The conventional variable per provider, used when a config names none.
CONVENTIONAL = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
#: Sent to OpenAI-compatible local servers (Ollama, vLLM, llama.cpp) that need no key.
NO_KEY = "no-key"


def secrets_file() -> Path | None:
    configured = os.environ.get(SECRETS_ENV)
    path = Path(configured) if configured else DEFAULT_SECRETS.expanduser()
    return path if path.is_file() else None


def read_secrets(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProviderError(f"cannot read the secrets file {path}: {exc.strerror}") from None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[name.strip()] = value
    return found


def lookup(name: str) -> str | None:
    """The value of secret ``name``: the environment first, then the secrets file."""
    value = os.environ.get(name)
    if value:
        return value
    path = secrets_file()
    if path is None:
        return None
    return read_secrets(path).get(name) or None


def api_key_for(config: BrainConfig) -> str:
    """The key for ``config``; raises :class:`ProviderError` naming the variable (only)."""
    if config.api_key_env:
        key = lookup(config.api_key_env)
        if key is None:
            raise ProviderError(
                f"{config.kind} brain: no API key in ${config.api_key_env} "
                f"(set it in the environment or in the secrets file, see docs/brains.md)"
            )
        return key
    conventional = CONVENTIONAL[config.kind]
    key = lookup(conventional)
    if key is not None:
        return key
    if config.base_url:  # a local or self-hosted endpoint: most need no key
        return NO_KEY
    raise ProviderError(
        f"{config.kind} brain: no API key; set ${conventional} or name another variable "
        "with api_key_env"
    )


def redact(text: str, *secrets: str) -> str:
    """``text`` with every secret (longer than 3 characters) replaced."""
    for secret in secrets:
        if secret and len(secret) > 3 and secret != NO_KEY:
            text = text.replace(secret, "[redacted]")
    return text
