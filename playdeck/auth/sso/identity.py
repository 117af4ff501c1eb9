"""Who a provider says logged in, the same shape for every provider: ``mapping.sign_in_external`` takes it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExternalIdentity:
    source: str  # "oidc" or "ldap"
    subject: str  # the stable id at the source: the OIDC `sub`, the LDAP entry's DN
    user_name: str
    email: str
    display_name: str
    groups: tuple[str, ...]
