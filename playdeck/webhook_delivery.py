"""Sends the deliveries ``playdeck.webhooks`` (project webhooks) and ``playdeck.notifications.routing``
(notification destinations) recorded, with retries and exponential backoff: HTTP posts, and e-mail through
``playdeck.notifications.smtp`` (whose outcome is retried or given up on alike).

A duty of the reaper process (one per install, ``playdeck.duties``), on a thread of its own that looks
for due deliveries every ``webhook_poll_seconds``. The delivery row is the truth: a restart loses
nothing, it only delays.
Each attempt claims its delivery first (a conditional UPDATE that moves ``next_attempt_at`` past the
request's timeout), so a second sender never posts the same attempt at the same time; a sender that dies
mid-request leaves the claim to expire and the attempt is made again — at least once, never lost.
Receivers can tell a repeat by ``X-Playdeck-Delivery``.

A 2xx answer delivers. A network error, a timeout, 408, 429 or 5xx is retried after
``webhook_retry_seconds * 2**(n-1)`` (at most an hour) until ``webhook_max_attempts``; any other answer
(a 4xx: the URL or the receiver's configuration is wrong; a redirect, never followed) gives up at once,
and so does a URL whose host now resolves to an address webhooks may not reach (``playdeck.webhook_targets``).
Only the answer's status line is kept, never its body.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus

import urllib3
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from playdeck import duties, signing, webhook_targets
from playdeck.db import session_scope
from playdeck.errors import PlaydeckError
from playdeck.models import Webhook, WebhookDelivery, utcnow
from playdeck.notifications import smtp
from playdeck.notifications.models import NotificationDestination
from playdeck.notifications.outbox import DELIVERED, FAILED, PENDING, TEST_EVENT
from playdeck.serializers import iso
from playdeck.settings import Settings, get_settings
from playdeck.webhooks import url_host

log = logging.getLogger(__name__)

# Deliveries looked at per pass; the rest wait for the next pass.
BATCH = 100
# Sent side by side, so one receiver that times out does not hold up every other.
PARALLEL = 8
MAX_BACKOFF_SECONDS = 3600.0
MAX_ERROR_CHARS = 500
RETRIED_STATUSES = frozenset({408, 429})
USER_AGENT = "Playdeck-Webhook/1"


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    # One of the two: a project's webhook, or a notification destination.
    webhook_id: int | None
    destination_id: int | None
    # "webhook", or the destination's kind (slack, teams, json, email).
    kind: str
    event: str
    url: str
    recipients: str
    payload: str
    secret_ciphertext: str
    attempts: int
    active: bool

    @property
    def owner(self) -> str:
        """What logs name it by."""
        return f"webhook {self.webhook_id}" if self.webhook_id is not None else f"destination {self.destination_id}"

    def signing_secret(self) -> str:
        """The secret its owner signs with ("": unsigned); SecretKeyError when it cannot be decrypted."""
        if self.webhook_id is not None:
            return signing.unseal("webhook", self.webhook_id, self.secret_ciphertext)
        return signing.unseal("destination", self.destination_id or 0, self.secret_ciphertext)

    def signature_headers(self, secret: str, body: bytes) -> dict[str, str]:
        """A webhook signs the body alone (as its receivers verify); a destination signs it with the time of
        this attempt, which it sends, so a receiver can refuse a delivery recorded and played again."""
        if self.webhook_id is not None:
            return {signing.SIGNATURE_HEADER: signing.signature(secret, body)}
        now = int(time.time())
        return {signing.TIMESTAMP_HEADER: str(now), signing.SIGNATURE_HEADER: signing.signature(secret, body, now)}


def backoff_seconds(settings: Settings, attempts: int) -> float:
    """The wait after the ``attempts``-th failed attempt."""
    return min(settings.webhook_retry_seconds * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS)


def _claim(delivery_id: int, settings: Settings) -> Attempt | None:
    now = utcnow()
    # Past the longest attempt: a post's timeout, or an SMTP exchange of a few round trips, each with its own.
    lease = dt.timedelta(seconds=max(settings.webhook_timeout_seconds, 4 * settings.smtp_timeout_seconds) + 30)
    with session_scope() as session:
        claimed = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.state == PENDING,
                WebhookDelivery.next_attempt_at <= now,
            )
            .values(next_attempt_at=now + lease)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            return None
        return _attempt(session, delivery_id)


def _attempt(session: Session, delivery_id: int) -> Attempt:
    delivery, hook, destination = session.execute(
        select(WebhookDelivery, Webhook, NotificationDestination)
        .outerjoin(Webhook, WebhookDelivery.webhook_id == Webhook.id)
        .outerjoin(NotificationDestination, WebhookDelivery.destination_id == NotificationDestination.id)
        .where(WebhookDelivery.id == delivery_id)
    ).one()
    common = {"delivery_id": delivery.id, "event": delivery.event, "payload": delivery.payload,
              "attempts": delivery.attempts}  # fmt: skip
    if hook is not None:
        return Attempt(webhook_id=hook.id, destination_id=None, kind="webhook", url=hook.url, recipients="",
                       secret_ciphertext=hook.secret_ciphertext, active=hook.active, **common)  # fmt: skip
    return Attempt(webhook_id=None, destination_id=destination.id, kind=destination.kind, url=destination.url,
                   recipients=destination.recipients, secret_ciphertext=destination.secret_ciphertext,
                   active=destination.active,
                   **common)  # fmt: skip


def _send(attempt: Attempt, settings: Settings) -> tuple[int | None, str, bool]:
    """Post or mail the attempt: the receiver's status code (None: none, or a mail), what went wrong
    ("" if nothing), and whether that is final."""
    if attempt.kind == "email":
        outcome = smtp.send(attempt.payload, [a for a in attempt.recipients.split(",") if a], settings)
        return None, outcome.error, outcome.final
    return _post(attempt, settings)


def _post(attempt: Attempt, settings: Settings) -> tuple[int | None, str, bool]:
    """The receiver's status code (None: no answer), what went wrong ("" if nothing), and whether that is
    final (no retry can help: the address is refused, a 4xx)."""
    try:
        secret = attempt.signing_secret()
    except PlaydeckError as exc:
        return None, exc.message, False
    try:
        # Checked at every attempt, not only when the webhook was made: DNS answers change.
        address = webhook_targets.checked_address(attempt.url)
    except webhook_targets.RefusedTarget as exc:
        return None, exc.message, True
    except webhook_targets.UnresolvedTarget:
        return None, f"{url_host(attempt.url)} does not resolve", False
    body = attempt.payload.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Playdeck-Event": attempt.event if attempt.event == TEST_EVENT else f"run.{attempt.event}",
        "X-Playdeck-Delivery": str(attempt.delivery_id),
    }
    if secret:
        headers |= attempt.signature_headers(secret, body)
    try:
        answer = webhook_targets.send(attempt.url, address, body, headers, settings.webhook_timeout_seconds)
    except urllib3.exceptions.HTTPError as exc:
        # Never the URL itself: it may hold a credential.
        return None, f"{_failure_name(exc)} posting to {url_host(attempt.url)}", False
    if 200 <= answer.status < 300:
        return answer.status, "", False
    # A status line only, never the answer's body: that would hand an admin whatever a service the
    # webhook reached (an allowed internal one) says.
    return answer.status, _status_line(answer.status), answer.status < 500 and answer.status not in RETRIED_STATUSES


def _status_line(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _failure_name(exc: Exception) -> str:
    # urllib3's NewConnectionError is also a ConnectTimeoutError: named for what happened.
    if isinstance(exc, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ProtocolError):
        return "ConnectionError"
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return "Timeout"
    return type(exc).__name__


def _record(attempt: Attempt, status: int | None, error: str, final: bool, settings: Settings) -> str:
    now = utcnow()
    attempts = attempt.attempts + 1
    if not error:
        state, next_at = DELIVERED, None
    elif final:
        state, next_at = FAILED, None
    elif attempts >= settings.webhook_max_attempts:
        state, next_at = FAILED, None
        error = f"{error} (gave up after {attempts} attempts)"
    else:
        state, next_at = PENDING, now + dt.timedelta(seconds=backoff_seconds(settings, attempts))
    with session_scope() as session:
        delivery = session.get(WebhookDelivery, attempt.delivery_id)
        if delivery is None:  # its webhook was deleted meanwhile
            return state
        entry = {"at": iso(now), "status_code": status, "error": error[:MAX_ERROR_CHARS]}
        delivery.attempts_json = json.dumps([*delivery.attempt_log, entry])
        delivery.attempts = attempts
        delivery.last_status_code = status
        delivery.last_error = error[:MAX_ERROR_CHARS]
        delivery.state = state
        delivery.next_attempt_at = next_at
        delivery.finished_at = None if state == PENDING else now
    return state


def _give_up_inactive(attempt: Attempt) -> None:
    with session_scope() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == attempt.delivery_id)
            .values(
                state=FAILED,
                next_attempt_at=None,
                finished_at=utcnow(),
                last_error=f"the {'webhook' if attempt.webhook_id is not None else 'destination'} was deactivated",
            )
            .execution_options(synchronize_session=False)
        )


def deliver_one(delivery_id: int, settings: Settings | None = None) -> str | None:
    """One attempt at one due delivery; its state afterwards, or None if it was not due (or taken)."""
    settings = settings or get_settings()
    attempt = _claim(delivery_id, settings)
    if attempt is None:
        return None
    # A test delivery checks the receiver, which one does before switching a webhook on.
    if not attempt.active and attempt.event != TEST_EVENT:
        _give_up_inactive(attempt)
        return FAILED
    status, error, final = _send(attempt, settings)
    state = _record(attempt, status, error, final, settings)
    if error:
        log.warning("%s delivery %s: %s (%s)", attempt.owner, delivery_id, error, state)
    return state


def due(settings: Settings | None = None, limit: int = BATCH) -> dict[tuple[int | None, int | None], list[int]]:
    """Due deliveries (up to ``limit``), oldest first, by webhook or destination."""
    with session_scope() as session:
        rows = session.execute(
            select(WebhookDelivery.id, WebhookDelivery.webhook_id, WebhookDelivery.destination_id)
            .where(WebhookDelivery.state == PENDING, WebhookDelivery.next_attempt_at <= utcnow())
            .order_by(WebhookDelivery.id)
            .limit(limit)
        ).all()
    by_receiver: dict[tuple[int | None, int | None], list[int]] = {}
    for delivery_id, webhook_id, destination_id in rows:
        by_receiver.setdefault((webhook_id, destination_id), []).append(delivery_id)
    return by_receiver


def deliver_due(settings: Settings | None = None) -> dict[int, str]:
    """One pass: an attempt at each due delivery (up to ``BATCH``); their states afterwards.

    A webhook's (a destination's) deliveries go one after the other, oldest first, so a receiver hears "started" before
    "succeeded"; different webhooks are served side by side. A retried notification can still arrive
    after a later one: receivers should go by the run's state and times, not by arrival.
    """
    settings = settings or get_settings()
    groups = list(due(settings).values())
    if not groups:
        return {}

    def deliver_in_order(ids: list[int]) -> list[tuple[int, str | None]]:
        return [(delivery_id, deliver_one(delivery_id, settings)) for delivery_id in ids]

    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(groups)), thread_name_prefix="webhook") as pool:
        results = [pair for group in pool.map(deliver_in_order, groups) for pair in group]
    return {delivery_id: state for delivery_id, state in results if state is not None}


# In the reaper process, on a thread of its own (playdeck.duties): a receiver that times out delays no other duty.
SENDING = duties.register(
    "webhook sending", lambda settings, now: deliver_due(settings), every=lambda settings: settings.webhook_poll_seconds
)
