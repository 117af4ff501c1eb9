"""Rotating PLAYDECK_SECRET_KEY: everything Playdeck sealed with it, encrypted again with the first key listed.

The procedure: put the new key in front ("new,old": the first encrypts, every one decrypts), restart, run
``playdeck secret reencrypt``, then drop the old key. Every column that holds a Fernet token is here, not only the
project secrets: a webhook's or a destination's signing secret, the stored OpenID Connect client secret and the
secret launch inputs of runs not yet ended would otherwise be unreadable once the old key goes (a signed webhook
that can no longer be signed, a company login that fails, a queued run that cannot start).

Rotation keeps each token's plaintext (its envelope too, which binds it to its row and purpose); only the key and
the timestamp change. A token no key opens stops the whole rotation before anything is written: the old key is
still needed, and the error names the row.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import InvalidToken, MultiFernet
from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from playdeck import audit
from playdeck.auth.sso.models import ClientSecret
from playdeck.models import Run, Secret, Webhook
from playdeck.notifications.models import NotificationDestination
from playdeck.secrets import SecretKeyError, cipher


@dataclass(frozen=True)
class SealedColumn:
    """A column of Fernet tokens; "" or NULL: nothing sealed in that row."""

    name: str
    column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None]


SEALED_COLUMNS = (
    SealedColumn("project secrets", Secret.ciphertext),
    SealedColumn("webhook signing secrets", Webhook.secret_ciphertext),
    SealedColumn("notification destination signing secrets", NotificationDestination.secret_ciphertext),
    SealedColumn("OpenID Connect client secret", ClientSecret.ciphertext),
    SealedColumn("secret launch inputs of runs not ended", Run.secret_vars_sealed),
)


def rotated_tokens(session: Session, fernet: MultiFernet, sealed: SealedColumn) -> list[tuple[int, str, str]]:
    """(row id, token, new token) for every sealed value of the column; SecretKeyError naming the first no key opens."""
    model = sealed.column.class_
    rows = session.execute(
        select(model.id, sealed.column).where(sealed.column.is_not(None), sealed.column != "").order_by(model.id)
    )
    rotated = []
    for row_id, token in rows:
        try:
            rotated.append((row_id, token, fernet.rotate(token.encode("ascii")).decode("ascii")))
        except (InvalidToken, UnicodeEncodeError):
            raise SecretKeyError(
                f"{sealed.name}: row {row_id} of {model.__tablename__} cannot be decrypted with any key in "
                "PLAYDECK_SECRET_KEY (keep the old key listed after the new one until this succeeds)"
            ) from None
    return rotated


def write_rotated(session: Session, sealed: SealedColumn, rows: list[tuple[int, str, str]]) -> None:
    """The new tokens written where each row still holds the token they were made from: a run that ended since
    had its inputs cleared for good, and keeps them cleared."""
    model = sealed.column.class_
    for row_id, token, new_token in rows:
        changed = update(model).where(model.id == row_id, sealed.column == token)
        session.execute(changed.values({sealed.column: new_token}))


def reencrypt_all(session: Session) -> dict[str, int]:
    """Every sealed value encrypted again with the first key, in the caller's transaction; how many of each kind.
    Nothing is written unless every value could be opened. Audited as ``secret.reencrypt`` with the counts."""
    fernet = cipher()
    rotated = {sealed: rotated_tokens(session, fernet, sealed) for sealed in SEALED_COLUMNS}
    for sealed, rows in rotated.items():
        write_rotated(session, sealed, rows)
    counts = {sealed.name: len(rows) for sealed, rows in rotated.items()}
    if any(counts.values()):
        audit.record(session, "secret.reencrypt", "secrets", "all", counts)
    return counts
