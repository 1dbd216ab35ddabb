"""Security: tenants, API keys and roles (DESIGN §6)."""

from aegntix.security.keys import (
    ApiKey,
    authenticate,
    create_key,
    ensure_bootstrap_key,
    list_keys,
    revoke_key,
)
from aegntix.security.roles import Action, Principal, Role

__all__ = [
    "Action",
    "ApiKey",
    "Principal",
    "Role",
    "authenticate",
    "create_key",
    "ensure_bootstrap_key",
    "list_keys",
    "revoke_key",
]
