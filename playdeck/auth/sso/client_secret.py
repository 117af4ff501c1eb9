"""The OpenID Connect client secret: from PLAYDECK_OIDC_CLIENT_SECRET or PLAYDECK_OIDC_CLIENT_SECRET_FILE when
either is set (the server's own configuration wins), else the one an admin stored in Playdeck (``playdeck sso
secret set``, ``PUT /api/v1/sso/client-secret``), kept only as ciphertext under PLAYDECK_SECRET_KEY like a
project's secrets, so a copy of the DB reveals nothing. Nothing here shows the value: ``describe`` tells where it
comes from; audit events say that it was set or removed."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import InvalidToken
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from playdeck import audit
from playdeck.auth.sso.models import ClientSecret
from playdeck.errors import NotFound, ValidationError
from playdeck.models import utcnow
from playdeck.secrets import MAX_PASSWORD_CHARS, SecretKeyError, cipher
from playdeck.serializers import iso
from playdeck.settings import Settings, get_settings

SOURCE = "oidc"
# Sealed with its purpose, so no other ciphertext of Playdeck's (a project's secret) passes for it.
PURPOSE = "sso.oidc_client_secret"


def _find(session: Session) -> ClientSecret | None:
    return session.scalar(select(ClientSecret).where(ClientSecret.source == SOURCE))


def _validate(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_PASSWORD_CHARS:
        raise ValidationError("value", f"the client secret must be a string of 1 to {MAX_PASSWORD_CHARS} characters")
    if value != value.strip() or any(ord(char) < 32 for char in value):
        raise ValidationError("value", "the client secret must not have spaces around it or control characters")
    return value


def set_secret(session: Session, value: object, who: str | None = None) -> dict[str, Any]:
    """Store (or replace) the client secret; ValidationError for an unusable value, SecretKeyError (503) without
    a usable PLAYDECK_SECRET_KEY. Audited as ``sso.client_secret.set``."""
    sealed = cipher().encrypt(json.dumps({"purpose": PURPOSE, "value": _validate(value)}).encode()).decode("ascii")
    who = who or audit.current_actor().name
    row = _find(session)
    replaced = row is not None
    if row is None:
        try:
            # A savepoint: a racing admin's row wins the unique constraint and is updated instead.
            with session.begin_nested():
                row = ClientSecret(source=SOURCE, ciphertext=sealed, updated_at=utcnow(), updated_by=who)
                session.add(row)
        except IntegrityError:
            row, replaced = _find(session), True
    assert row is not None
    row.ciphertext, row.updated_at, row.updated_by = sealed, utcnow(), who
    session.flush()
    audit.record(session, "sso.client_secret.set", "sso", SOURCE, {"replaced": replaced}, actor=who)
    return describe(session)


def delete_secret(session: Session, who: str | None = None) -> None:
    """Remove the stored client secret (NotFound when none is stored). Audited as ``sso.client_secret.delete``."""
    row = _find(session)
    if row is None:
        raise NotFound("no client secret is stored in Playdeck")
    session.delete(row)
    session.flush()
    audit.record(session, "sso.client_secret.delete", "sso", SOURCE, {}, actor=who or audit.current_actor().name)


def stored_secret(session: Session) -> str:
    """The stored client secret ("" when none); SecretKeyError when PLAYDECK_SECRET_KEY cannot open it."""
    row = _find(session)
    if row is None:
        return ""
    try:
        envelope = json.loads(cipher().decrypt(row.ciphertext.encode("ascii")))
    except (InvalidToken, ValueError):
        raise SecretKeyError(
            "the stored OpenID Connect client secret cannot be decrypted: PLAYDECK_SECRET_KEY is not the key it was "
            "set with (while rotating keys, list the old key after the new one)"
        ) from None
    if not isinstance(envelope, dict) or envelope.get("purpose") != PURPOSE:
        raise SecretKeyError("the stored OpenID Connect client secret was encrypted for something else")
    return str(envelope["value"])


def client_secret(session: Session, settings: Settings) -> str:
    """The secret to use: the environment's (or its file's) when set, else the stored one, else ""."""
    return settings.oidc_client_secret or stored_secret(session)


def describe(session: Session, settings: Settings | None = None) -> dict[str, Any]:
    """Where the secret comes from, never the value: ``source`` is "environment" (the variable or its file, which
    win), "store", or "none"; ``stored`` tells whether one is stored (used only without the environment's)."""
    row = _find(session)
    from_environment = bool((settings or get_settings()).oidc_client_secret)
    source = "environment" if from_environment else ("store" if row is not None else "none")
    stored = None if row is None else {"updated_at": iso(row.updated_at), "updated_by": row.updated_by}
    return {"source": source, "stored": stored}
