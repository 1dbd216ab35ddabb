"""Security: tenants, API keys and roles (DESIGN §6). Keys: :mod:`aegntix.security.keys`
(imported on use: it reaches the data layer, which imports this package's protocols)."""

from aegntix.security.roles import Action, Principal, Role

__all__ = ["Action", "Principal", "Role"]
