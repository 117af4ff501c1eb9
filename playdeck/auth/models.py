"""Tables of accounts and credentials: users, their login sessions and API tokens, project membership,
per-zone DNS editing grants, and the failed logins that throttle password guessing.

Credentials are stored only as SHA-256 hashes of random values (a session cookie, a token): a copy of
the DB gives no way in. Passwords are stored as Werkzeug scrypt hashes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from playdeck.model_base import NEVER_REUSE_IDS, Base, BigId, Timestamp, utcnow

NAME_LENGTH = 100
# hex SHA-256
HASH_LENGTH = 64
# "pdt_" and 8 random characters of an API token's 43: 48 of its 256 bits.
TOKEN_START_LENGTH = 12


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("name", name="uq_users_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # What runs' requested_by and the DNS history record.
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    # viewer | developer | release_manager | admin (playdeck.auth.permissions.Role)
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)

    projects: Mapped[list[ProjectMember]] = relationship(cascade="all, delete-orphan")
    zones: Mapped[list[ZoneEditor]] = relationship(cascade="all, delete-orphan")


class LoginSession(Base):
    """A browser's login: the cookie holds a random value, this row its hash. Deleted on logout and on
    a password change (every session of the user), so a stolen cookie dies with them."""

    __tablename__ = "login_sessions"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_login_sessions_token_hash"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    address: Mapped[str] = mapped_column(String(64), default="")

    user: Mapped[User] = relationship()


class ApiToken(Base):
    """A user's API credential (``Authorization: Bearer …``), shown once when created."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    token_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    # The token's first characters, to tell tokens apart (and find a leaked one) in a list; the rest
    # stays secret. Empty for tokens created before it was kept.
    token_start: Mapped[str] = mapped_column(String(TOKEN_START_LENGTH), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # The token that created this one through the API (None: made at a login or in the shell). A child
    # never outlives its parent, and revoking the parent revokes it (``playdeck.auth.credentials``): a
    # leaked token cannot leave behind a token that survives its own revocation.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="SET NULL"), index=True)

    user: Mapped[User] = relationship()


class ProjectMember(Base):
    """A developer deploys the projects they belong to (release managers and admins deploy any)."""

    __tablename__ = "project_members"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    # "" granted by hand; "sso": by the group mapping (playdeck.auth.sso.mapping), which takes it back.
    source: Mapped[str] = mapped_column(String(10), default="", server_default="")


class ZoneEditor(Base):
    """A DNS editor of one zone, by the zone's name: the grant outlives the zone's removal and applies to
    the zone created again under that name."""

    __tablename__ = "zone_editors"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    zone: Mapped[str] = mapped_column(String(255), primary_key=True)
    # "" granted by hand; "sso": by the group mapping (playdeck.auth.sso.mapping), which takes it back.
    source: Mapped[str] = mapped_column(String(10), default="", server_default="")


class LoginFailure(Base):
    """One failed login, kept for the throttle's window (``playdeck.auth.throttle``)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_name_at", "name", "failed_at"),
        Index("ix_login_failures_address_at", "address", "failed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    address: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class SigningKey(Base):
    """A random server-wide key, made on first use, for values a browser hands back that every web
    process must verify alike (the login form's token: ``playdeck.auth.login_form``). Not a credential: it
    opens no account, so it may live in the DB; ``PLAYDECK_FLASK_SECRET_KEY``, when set, is used instead."""

    __tablename__ = "signing_keys"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    # hex of 32 random bytes
    value: Mapped[str] = mapped_column(String(HASH_LENGTH))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
