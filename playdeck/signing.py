"""Signed HTTP deliveries: a project's webhook and a JSON notification destination sign each POST with a
secret of their own, ``X-Playdeck-Signature: sha256=<hex>``, the HMAC-SHA256 under that secret.

A webhook signs the body alone (what its receivers verify since webhooks were added). A destination signs
``<timestamp>.<body>`` and sends the timestamp (Unix seconds, taken at each attempt) as
``X-Playdeck-Timestamp``: a receiver that refuses a timestamp older than a few minutes cannot be fed a
recorded delivery again, and one cannot change the timestamp without breaking the signature.

Secrets are stored Fernet-encrypted (PLAYDECK_SECRET_KEY), like project secrets, in an envelope that names
the row they belong to: a ciphertext copied onto another webhook or destination is refused, not used.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets as random
from typing import Any

from cryptography.fernet import InvalidToken

from playdeck.errors import ValidationError

SIGNATURE_HEADER = "X-Playdeck-Signature"
TIMESTAMP_HEADER = "X-Playdeck-Timestamp"
MAX_SECRET_CHARS = 1024
# Generated secrets: 256 bits, as text a receiver can paste into its configuration.
GENERATED_BYTES = 32


def checked_secret(value: Any, *, required: bool) -> str:
    """A secret as given: text of at most ``MAX_SECRET_CHARS`` ("" for none, unless ``required``)."""
    if not isinstance(value, str) or len(value) > MAX_SECRET_CHARS or (required and not value):
        need = "non-empty text" if required else "text"
        raise ValidationError(
            "secret",
            f"must be {need} of at most {MAX_SECRET_CHARS} characters" + ("" if required else " ('' for none)"),
        )
    return value


def new_secret() -> str:
    return random.token_urlsafe(GENERATED_BYTES)


def signature(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """``sha256=<hex>`` of the body, or of ``<timestamp>.<body>`` when a timestamp is given."""
    signed = body if timestamp is None else f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def seal(owner: str, owner_id: int, secret: str) -> str:
    """The secret encrypted for row ``owner_id`` of ``owner`` ("webhook", "destination")."""
    # Imported here: playdeck.secrets is only needed by signed deliveries.
    from playdeck.secrets import cipher

    envelope = {f"{owner}_id": owner_id, "value": secret}
    return cipher().encrypt(json.dumps(envelope).encode()).decode("ascii")


def unseal(owner: str, owner_id: int, ciphertext: str) -> str:
    """The secret to sign with ("": unsigned); SecretKeyError when it cannot be decrypted, or was sealed for
    another row."""
    if not ciphertext:
        return ""
    from playdeck.secrets import SecretKeyError, cipher

    try:
        envelope = json.loads(cipher().decrypt(ciphertext.encode("ascii")))
    except (InvalidToken, ValueError):
        raise SecretKeyError(
            f"{owner} {owner_id}'s secret cannot be decrypted: PLAYDECK_SECRET_KEY is not the key it was set with"
        ) from None
    if envelope.get(f"{owner}_id") != owner_id:
        raise SecretKeyError(f"{owner} {owner_id}'s secret was encrypted for another {owner}")
    return envelope["value"]
