"""Named notification destinations (admins): where routed notifications go.

A destination is a Slack-style incoming webhook (``slack``), a Microsoft Teams workflow webhook
(``teams``), a generic JSON webhook (``json``) or e-mail recipients (``email``, sent through the SMTP server
of the settings). URLs are checked like the project webhooks' (``playdeck.webhook_targets``: no loopback or
private address unless allowed). A URL can hold a credential, so only admins see destinations and the
audit log records the URL's host, never the URL.

A ``json`` destination signs its deliveries (``playdeck.signing``: ``X-Playdeck-Timestamp`` and
``X-Playdeck-Signature``, an HMAC-SHA256 of ``<timestamp>.<body>``) with a secret of its own: one is made when
the destination is (answered that once, like a token, never shown again) unless the admin gives one, or ""
for an unsigned destination. Slack and Teams do not verify signatures (their URL is the credential): they
take no secret.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from playdeck import audit, signing, webhooks
from playdeck.errors import Conflict, NotFound, ValidationError
from playdeck.models import WebhookDelivery, utcnow
from playdeck.notifications import rendering
from playdeck.notifications.models import NotificationDestination, NotificationSubscription
from playdeck.notifications.outbox import TEST_EVENT, delivery_page, pending
from playdeck.serializers import iso

KINDS = ("slack", "teams", "json", "email")
HTTP_KINDS = ("slack", "teams", "json")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Deliberately plain: one address, no display name, no comments, nothing a mail header could be built from.
ADDRESS_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
MAX_RECIPIENTS = 50


@dataclass(frozen=True)
class DestinationView:
    id: int
    name: str
    kind: str
    url: str
    recipients: list[str]
    active: bool
    created_at: dt.datetime
    created_by: str
    signed: bool
    # The signing secret, only in the answer that made or set it: never stored readable, never shown again.
    secret: str | None = None

    def to_dict(self) -> dict[str, Any]:
        shown = {**asdict(self), "created_at": iso(self.created_at)}
        if self.secret is None:
            del shown["secret"]
        return shown


def view(destination: NotificationDestination, secret: str | None = None) -> DestinationView:
    recipients = [address for address in destination.recipients.split(",") if address]
    return DestinationView(
        destination.id,
        destination.name,
        destination.kind,
        destination.url,
        recipients,
        destination.active,
        destination.created_at,
        destination.created_by,
        bool(destination.secret_ciphertext),
        secret,
    )


# --- validation -------------------------------------------------------------------------------------


def validate_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValidationError("name", "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return name


def validate_kind(kind: Any) -> str:
    if kind not in KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(KINDS)}")
    return kind


def validate_recipients(recipients: Any) -> list[str]:
    """A list (or comma-separated text) of plain e-mail addresses."""
    if isinstance(recipients, str):
        recipients = [address.strip() for address in recipients.split(",") if address.strip()]
    if not isinstance(recipients, list) or not recipients or not all(isinstance(a, str) for a in recipients):
        raise ValidationError("recipients", "must be a non-empty list of e-mail addresses")
    if len(recipients) > MAX_RECIPIENTS:
        raise ValidationError("recipients", f"at most {MAX_RECIPIENTS} addresses")
    bad = [address for address in recipients if not ADDRESS_RE.fullmatch(address)]
    if bad:
        raise ValidationError("recipients", f"not a plain e-mail address (name@example.com): {bad[0][:100]!r}")
    return list(dict.fromkeys(recipients))


def _target(kind: str, url: Any, recipients: Any) -> tuple[str, str]:
    """The URL and the recipients a destination of ``kind`` keeps: one of them, never both."""
    if kind == "email":
        if url not in (None, ""):
            raise ValidationError("url", "an email destination has recipients, not a URL")
        return "", ",".join(validate_recipients(recipients))
    if recipients not in (None, "", []):
        raise ValidationError("recipients", f"a {kind} destination has a URL, not recipients")
    return webhooks.checked_url(url), ""


def _checked_secret(kind: str, secret: Any) -> str | None:
    """The secret a destination of ``kind`` is given: None to make one (json), "" for none, or the text."""
    if kind != "json":
        if secret not in (None, ""):
            raise ValidationError("secret", f"only json destinations are signed: a {kind} URL is its own credential")
        return ""
    return None if secret is None else signing.checked_secret(secret, required=False)


def _set_secret(destination: NotificationDestination, secret: str | None) -> str | None:
    """Seal the secret (None: a new one) onto the flushed destination; a new one, to show this once."""
    if secret == "":
        destination.secret_ciphertext = ""
        return None
    chosen = signing.new_secret() if secret is None else secret
    destination.secret_ciphertext = signing.seal("destination", destination.id, chosen)
    # One the admin gave is theirs already: never echoed.
    return chosen if secret is None else None


def _audit_details(destination: NotificationDestination) -> dict[str, Any]:
    target = webhooks.url_host(destination.url) if destination.url else destination.recipients
    return {"name": destination.name, "kind": destination.kind, "target": target, "active": destination.active,
            "signed": bool(destination.secret_ciphertext)}  # fmt: skip


# --- management -------------------------------------------------------------------------------------


def create(
    session: Session, name: Any, kind: Any, *, url: Any = None, recipients: Any = None, active: Any = True,
    secret: Any = None, who: str | None = None,
) -> DestinationView:  # fmt: skip
    """The new destination; a json one's signing secret in the view this once (``secret``: None makes one)."""
    name, kind = validate_name(name), validate_kind(kind)
    target_url, target_recipients = _target(kind, url, recipients)
    given_secret = _checked_secret(kind, secret)
    if not isinstance(active, bool):
        raise ValidationError("active", "must be true or false")
    if session.scalar(select(NotificationDestination.id).where(NotificationDestination.name == name)) is not None:
        raise Conflict(f"a notification destination named {name} exists already")
    destination = NotificationDestination(
        name=name, kind=kind, url=target_url, recipients=target_recipients, active=active, created_at=utcnow(),
        created_by=who or audit.current_actor().name,
    )  # fmt: skip
    session.add(destination)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # made by someone else meanwhile
        raise Conflict(f"a notification destination named {name} exists already") from None
    shown = _set_secret(destination, given_secret) if kind == "json" else None
    audit.record(session, "notification.destination.create", "notification_destination", destination.id,
                 _audit_details(destination), actor=who)  # fmt: skip
    return view(destination, shown)


def get(session: Session, name: str) -> NotificationDestination:
    destination = session.scalar(select(NotificationDestination).where(NotificationDestination.name == name))
    if destination is None:
        raise NotFound(f"there is no notification destination named {name}")
    return destination


def list_all(session: Session) -> list[DestinationView]:
    return [view(d) for d in session.scalars(select(NotificationDestination).order_by(NotificationDestination.name))]


def update(session: Session, name: str, changes: dict[str, Any], who: str | None = None) -> DestinationView:
    """Change a destination's ``active``, ``url``, ``recipients`` or (json) signing ``secret`` (the new text,
    or "" for unsigned deliveries); its name and kind stay."""
    destination = get(session, name)
    if "secret" in changes:
        new_secret = _checked_secret(destination.kind, changes["secret"])
        if new_secret is None:
            raise ValidationError("secret", "give the new secret's text, or '' for unsigned deliveries")
        _set_secret(destination, new_secret)
    if "active" in changes:
        if not isinstance(changes["active"], bool):
            raise ValidationError("active", "must be true or false")
        destination.active = changes["active"]
    if "url" in changes or "recipients" in changes:
        destination.url, destination.recipients = _target(
            destination.kind,
            changes.get("url", destination.url or None),
            changes.get("recipients", destination.recipients or None),
        )
    audit.record(session, "notification.destination.update", "notification_destination", destination.id,
                 {**_audit_details(destination), "changed": sorted(changes)}, actor=who)  # fmt: skip
    return view(destination)


def delete(session: Session, name: str, who: str | None = None) -> None:
    """The destination, its subscriptions and its delivery log; pending deliveries are never sent."""
    destination = get(session, name)
    details = _audit_details(destination)
    # Explicitly: SQLite enforces ON DELETE CASCADE only with foreign keys switched on.
    for table, column in ((WebhookDelivery, WebhookDelivery.destination_id),
                          (NotificationSubscription, NotificationSubscription.destination_id)):  # fmt: skip
        session.query(table).filter(column == destination.id).delete(synchronize_session=False)
    session.delete(destination)
    audit.record(session, "notification.destination.delete", "notification_destination", destination.id, details,
                 actor=who)  # fmt: skip


def enqueue_test(session: Session, name: str, who: str | None = None) -> WebhookDelivery:
    """A delivery that shows the destination (and the log) what a notification looks like; sent even while
    the destination is inactive, since that is when one checks it."""
    destination = get(session, name)
    actor = who or audit.current_actor().name
    body = rendering.render_test(destination.kind, destination.name, actor)
    delivery = pending(None, TEST_EVENT, body, utcnow(), destination_id=destination.id)
    session.add(delivery)
    session.flush()
    audit.record(session, "notification.destination.test", "notification_destination", destination.id,
                 {"name": destination.name, "delivery": delivery.id}, actor=who)  # fmt: skip
    return delivery


def list_deliveries(
    session: Session, name: str, before_id: int | None = None, limit: int = 50
) -> tuple[list[WebhookDelivery], bool]:
    """The destination's delivery log, newest first, in keyset pages; the flag says whether older ones exist."""
    return delivery_page(session, WebhookDelivery.destination_id == get(session, name).id, before_id, limit)
