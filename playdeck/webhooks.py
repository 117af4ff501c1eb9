"""Run notifications by webhook: per project, an HTTP endpoint gets a POST when a run starts or ends.

A delivery is recorded in the transaction of the run's state change (``enqueue``, called by
``playdeck.runs.transitions`` for every transition), so a state change and its notification commit or roll back
together: a claim rolled back for a locked environment notifies nothing, a run that ended always does.
The body is rendered then, from the run as it is at that moment; ``playdeck.webhook_delivery`` sends it
later, with retries, and records each attempt on the delivery (the delivery log).

Formats: ``json`` (the run as an object) or ``slack`` (``{"text": ...}``, what Slack's and Mattermost's
incoming webhooks take). With a secret, each POST carries ``X-Playdeck-Signature: sha256=<hex>``, the
HMAC-SHA256 of the body (``playdeck.signing``); the secret is stored Fernet-encrypted (PLAYDECK_SECRET_KEY).

A webhook's URL can hold a credential (Slack's do): only admins see webhooks, and the audit log records
the URL's host, never the URL.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from playdeck import audit, projects, signing, webhook_targets
from playdeck.errors import NotFound, ValidationError
from playdeck.models import Run, Webhook, WebhookDelivery, utcnow
from playdeck.notifications import rendering, routing
from playdeck.notifications.events import choose
from playdeck.notifications.models import NotificationDestination
from playdeck.notifications.outbox import PENDING, TEST_EVENT, delivery_page, pending, run_facts
from playdeck.notifications.rendering import slack_escape
from playdeck.runs.states import RunState
from playdeck.serializers import iso

# freeze_overridden: a release manager deployed inside a freeze window (playdeck.release_control.freeze_rule);
# the approval events: playdeck.release_control.approvals; the pipeline events, about the last step's run of a
# pipeline run that ended: playdeck.pipelines.engine.
EVENTS = (
    "started", "succeeded", "failed", "canceled", "timeout", "lost", "freeze_overridden",
    "approval_requested", "approved", "rejected", "expired",
    "pipeline_succeeded", "pipeline_failed", "pipeline_canceled",
)  # fmt: skip
EVENT_OF_STATE = {
    RunState.RUNNING: "started",
    RunState.SUCCESSFUL: "succeeded",
    RunState.FAILED: "failed",
    # The worker could not run the playbook at all: to whoever watches a project, a failure.
    RunState.ERROR: "failed",
    RunState.CANCELED: "canceled",
    RunState.TIMEOUT: "timeout",
    RunState.LOST: "lost",
    RunState.REJECTED: "rejected",
    RunState.EXPIRED: "expired",
}
FORMATS = ("json", "slack")
MAX_URL_CHARS = 2048
MAX_DELIVERIES_PAGE = 200


@dataclass(frozen=True)
class WebhookView:
    id: int
    project: str
    url: str
    format: str
    events: list[str]
    signed: bool
    active: bool
    created_at: dt.datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "url": self.url,
            "format": self.format,
            "events": self.events,
            "signed": self.signed,
            "active": self.active,
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
        }


def _view(project: str, hook: Webhook) -> WebhookView:
    return WebhookView(
        hook.id,
        project,
        hook.url,
        hook.format,
        hook.events.split(","),
        bool(hook.secret_ciphertext),
        hook.active,
        hook.created_at,
        hook.created_by,
    )


def delivery_dict(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "destination_id": delivery.destination_id,
        "run_id": delivery.run_id,
        "event": delivery.event,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "attempt_log": delivery.attempt_log,
        "created_at": iso(delivery.created_at),
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.state == PENDING else None,
        "finished_at": iso(delivery.finished_at),
        "payload": json.loads(delivery.payload),
    }


# --- validation -------------------------------------------------------------------------------------


def validate_url(url: Any) -> str:
    if not isinstance(url, str) or not url:
        raise ValidationError("url", "must be an http:// or https:// URL")
    if len(url) > MAX_URL_CHARS or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise ValidationError(
            "url", f"must be at most {MAX_URL_CHARS} characters, without spaces or control characters"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing it raises on a bad port
    except ValueError:
        raise ValidationError("url", "is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("url", "must be an http:// or https:// URL with a host")
    return url


def checked_url(url: Any) -> str:
    """A valid URL whose host does not resolve to an address webhooks may not reach (loopback, private,
    link-local, ...: ``playdeck.webhook_targets``)."""
    url = validate_url(url)
    webhook_targets.check_url(url)
    return url


def validate_events(events: Any) -> list[str]:
    """A list (or comma-separated text) of event names, in the canonical order; None: every event."""
    return choose(events, EVENTS)


def _validate_format(value: Any) -> str:
    if value not in FORMATS:
        raise ValidationError("format", f"must be one of {', '.join(FORMATS)}")
    return value


def url_host(url: str) -> str:
    """What may be shown of a URL outside the admin's webhook list (audit, logs): its scheme and host."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


# --- management (admins) ----------------------------------------------------------------------------


def create_webhook(
    session: Session,
    project: str,
    url: Any,
    *,
    format: Any = "json",
    events: Any = None,
    secret: Any = "",
    active: Any = True,
    who: str | None = None,
) -> WebhookView:
    found = projects.get_project(session, project)
    url, format, chosen, secret = (
        checked_url(url),
        _validate_format(format),
        validate_events(events),
        signing.checked_secret(secret, required=False),
    )
    if not isinstance(active, bool):
        raise ValidationError("active", "must be true or false")
    hook = Webhook(
        project_id=found.id,
        url=url,
        format=format,
        events=",".join(chosen),
        secret_ciphertext="",
        active=active,
        created_at=utcnow(),
        created_by=who or audit.current_actor().name,
    )
    session.add(hook)
    session.flush()
    if secret:
        hook.secret_ciphertext = signing.seal("webhook", hook.id, secret)
    audit.record(
        session,
        "webhook.create",
        "webhook",
        hook.id,
        {"project": found.name, "host": url_host(url), "format": format, "events": chosen, "signed": bool(secret),
         "active": active},
        actor=who,
    )  # fmt: skip
    return _view(found.name, hook)


def get_webhook(session: Session, project: str, webhook_id: int) -> Webhook:
    found = projects.get_project(session, project)
    hook = session.get(Webhook, webhook_id)
    if hook is None or hook.project_id != found.id:
        raise NotFound(f"project {found.name} has no webhook {webhook_id}")
    return hook


def get_view(session: Session, project: str, webhook_id: int) -> WebhookView:
    hook = get_webhook(session, project, webhook_id)
    return _view(hook.project.name, hook)


def list_webhooks(session: Session, project: str) -> list[WebhookView]:
    found = projects.get_project(session, project)
    hooks = session.scalars(select(Webhook).where(Webhook.project_id == found.id).order_by(Webhook.id))
    return [_view(found.name, hook) for hook in hooks]


def set_active(session: Session, project: str, webhook_id: int, active: Any, who: str | None = None) -> WebhookView:
    if not isinstance(active, bool):
        raise ValidationError("active", "must be true or false")
    hook = get_webhook(session, project, webhook_id)
    if hook.active != active:
        hook.active = active
        audit.record(session, "webhook.update", "webhook", hook.id, {"project": hook.project.name, "active": active},
                     actor=who)  # fmt: skip
    return _view(hook.project.name, hook)


def delete_webhook(session: Session, project: str, webhook_id: int, who: str | None = None) -> None:
    """The webhook and its delivery log; deliveries still pending are never sent."""
    hook = get_webhook(session, project, webhook_id)
    details = {"project": hook.project.name, "host": url_host(hook.url)}
    # Explicitly: SQLite enforces ON DELETE CASCADE only with foreign keys switched on.
    session.query(WebhookDelivery).filter(WebhookDelivery.webhook_id == hook.id).delete(synchronize_session=False)
    session.delete(hook)
    audit.record(session, "webhook.delete", "webhook", webhook_id, details, actor=who)


# --- deliveries -------------------------------------------------------------------------------------


def render(format: str, event: str, run: dict[str, Any]) -> str:
    return rendering.render(format, event, run)


def enqueue(session: Session, run_id: int, state: RunState | str) -> int:
    """In the transaction of the run's change to ``state``: a pending delivery for each active webhook of
    the run's project that asked for the event. Returns how many."""
    event = EVENT_OF_STATE.get(RunState(state))
    if event is None:
        return 0
    return enqueue_event(session, run_id, event)


def enqueue_many(session: Session, run_ids: list[int], state: RunState | str) -> int:
    """``enqueue`` for runs changed together (the expiry pass). While no notification destination is active,
    one query picks the runs whose project has an active webhook, so a thousand runs of projects without one
    cost one statement; otherwise each run is routed as ``enqueue`` does."""
    if session.scalar(select(NotificationDestination.id).where(NotificationDestination.active == true()).limit(1)):
        return sum(enqueue(session, run_id, state) for run_id in run_ids)
    listening = session.scalars(
        select(Run.id)
        .join(Webhook, Webhook.project_id == Run.project_id)
        .where(Run.id.in_(run_ids), Webhook.active == true())
        .distinct()
    )
    return sum(enqueue(session, run_id, state) for run_id in list(listening))


def enqueue_event(session: Session, run_id: int, event: str) -> int:
    """In the transaction of whatever happened to the run: a pending delivery of ``event`` for each active
    webhook of the run's project that asked for it, and for each notification destination subscribed to
    it (``playdeck.notifications.routing``). Returns how many."""
    return _enqueue_to_webhooks(session, run_id, event) + routing.route(session, run_id, event)


def _enqueue_to_webhooks(session: Session, run_id: int, event: str) -> int:
    hooks = session.execute(
        select(Webhook.id, Webhook.format, Webhook.events)
        .join(Run, Run.project_id == Webhook.project_id)
        .where(Run.id == run_id, Webhook.active == true())
    ).all()
    chosen = [hook for hook in hooks if event in hook.events.split(",")]
    if not chosen:
        return 0
    run = run_facts(session, run_id)
    now = utcnow()
    for hook in chosen:
        session.add(pending(run_id, event, render(hook.format, event, run), now, webhook_id=hook.id))
    session.flush()
    return len(chosen)


def enqueue_test(session: Session, project: str, webhook_id: int, who: str | None = None) -> WebhookDelivery:
    """A delivery that shows the receiver (and the log) what a notification looks like; sent even while
    the webhook is inactive, since that is when one checks a receiver."""
    hook = get_webhook(session, project, webhook_id)
    actor = who or audit.current_actor().name
    if hook.format == "slack":
        body = {"text": f":bell: Playdeck test notification for project "
                        f"{slack_escape(hook.project.name)} (sent by {slack_escape(actor)})"}  # fmt: skip
    else:
        body = {"event": TEST_EVENT, "project": hook.project.name, "webhook_id": hook.id, "sent_by": actor}
    delivery = pending(None, TEST_EVENT, json.dumps(body, sort_keys=True), utcnow(), webhook_id=hook.id)
    session.add(delivery)
    session.flush()
    audit.record(session, "webhook.test", "webhook", hook.id, {"project": hook.project.name, "delivery": delivery.id},
                 actor=who)  # fmt: skip
    return delivery


def list_deliveries(
    session: Session, project: str, webhook_id: int, before_id: int | None = None, limit: int = 50
) -> tuple[list[WebhookDelivery], bool]:
    """Newest first, in keyset pages; the flag says whether older ones exist."""
    hook = get_webhook(session, project, webhook_id)
    return delivery_page(session, WebhookDelivery.webhook_id == hook.id, before_id, limit)
