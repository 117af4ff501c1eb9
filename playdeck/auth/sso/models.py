"""Tables of single sign-on: the rules that map a provider's groups to a role and grants
(``sso_group_rules``), the link of a Playdeck user to their account at a provider (``sso_accounts``), and the
OpenID Connect logins under way (``oidc_logins``: a login's state, nonce and PKCE verifier, used once), and the
client secret an admin stored (``sso_client_secrets``, encrypted)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

from playdeck.model_base import NEVER_REUSE_IDS, Base, BigId, Timestamp, utcnow

# An LDAP group's DN can be long; 512 characters of utf8mb4 still fit a MariaDB unique index.
GROUP_LENGTH = 512
SOURCES = ("oidc", "ldap")


class GroupRule(Base):
    """Members of ``group`` (at ``source``, or at any provider when "") get ``role`` and the projects and
    zones listed; a user matching several rules gets the highest role and every grant."""

    __tablename__ = "sso_group_rules"
    __table_args__ = (UniqueConstraint("source", "group_name", name="uq_sso_group_rules_source_group"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(10), default="")
    # Compared without regard to case (LDAP DNs are case-insensitive; providers' group names rarely differ
    # only in case).
    group_name: Mapped[str] = mapped_column(String(GROUP_LENGTH))
    role: Mapped[str] = mapped_column(String(20))
    # Project names and zone names (canonical, as playdeck.dns.changes.zone_key gives them), JSON lists.
    projects_json: Mapped[str] = mapped_column(Text, default="[]")
    zones_json: Mapped[str] = mapped_column(Text, default="[]")
    # Whether grants an admin gave the user by hand survive their logins (False: the mapping alone decides).
    keep_manual_grants: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class ExternalAccount(Base):
    """The Playdeck user a provider's account signs in as, found by the provider's stable id (never by
    name: a provider account named like a local admin does not become that admin)."""

    __tablename__ = "sso_accounts"
    __table_args__ = (
        UniqueConstraint("source", "subject", name="uq_sso_accounts_source_subject"),
        UniqueConstraint("user_id", name="uq_sso_accounts_user"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(GROUP_LENGTH))
    email: Mapped[str] = mapped_column(String(255), default="")
    display_name: Mapped[str] = mapped_column(String(255), default="")
    # The groups of the last login (JSON list), shown to admins.
    groups_json: Mapped[str] = mapped_column(Text, default="[]")
    # The mapping deactivated the user (none of their groups matched any more): a login with a matching
    # group activates them again. A user an admin deactivated stays so.
    deactivated_by_mapping: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    first_login_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    last_login_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class OidcLogin(Base):
    """A login sent to the provider and not back yet. Found by the hash of its ``state``, valid only with
    the browser cookie it was started from, deleted when it comes back: a state, and the nonce bound to it,
    work once."""

    __tablename__ = "oidc_logins"
    __table_args__ = (
        UniqueConstraint("state_hash", name="uq_oidc_logins_state_hash"),
        Index("ix_oidc_logins_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    state_hash: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the random value in the browser's cookie.
    browser_hash: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next_url: Mapped[str] = mapped_column(String(1000), default="/")
    # An admin's test of the configuration: shows the claims and the role, opens no session.
    test_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(Timestamp)


class ClientSecret(Base):
    """A provider's client secret an admin stored in Playdeck (``client_secret``): only its ciphertext, under
    PLAYDECK_SECRET_KEY, like a project's secrets. One per source."""

    __tablename__ = "sso_client_secrets"
    __table_args__ = (UniqueConstraint("source", name="uq_sso_client_secrets_source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(10))
    ciphertext: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100), default="")
