"""Who a provider says logged in, the same shape for every provider: ``mapping.sign_in_external`` takes it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExternalIdentity:
    source: str  # "oidc" or "ldap"
    subject: str  # the stable id at the source: the OIDC `sub`, the LDAP entry's id (its DN if it has none)
    user_name: str
    email: str
    display_name: str
    groups: tuple[str, ...]
    # Subjects a link to this account may still be keyed by, made by an earlier version (an LDAP entry's DN):
    # such a link is re-keyed to ``subject`` (mapping).
    former_subjects: tuple[str, ...] = ()
