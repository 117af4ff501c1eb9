"""The outbox every notification goes through (table ``webhook_deliveries``): a pending delivery recorded in
the transaction of the run's event, with its body rendered from the run as it is then; the sender
(``playdeck.webhook_delivery``) posts or mails it later, with retries, and logs each attempt on it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from playdeck.models import Environment, Project, Run, WebhookDelivery
from playdeck.runs import failure_summary
from playdeck.serializers import iso
from playdeck.settings import get_settings

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
TEST_EVENT = "test"


def run_link(run_id: int) -> str:
    """The run's page in the web UI, as people reach it (PLAYDECK_BASE_URL)."""
    return f"{get_settings().base_url}/runs/{run_id}"


def run_facts(session: Session, run_id: int) -> dict[str, Any]:
    """The run as notifications show it, read now."""
    # Columns, not the ORM object: the state change was a bulk UPDATE that an object already loaded in
    # this session would not show.
    row = session.execute(
        select(Run, Project.name.label("project_name"), Environment.name.label("environment_name"))
        .join(Project, Run.project_id == Project.id)
        .join(Environment, Run.environment_id == Environment.id)
        .where(Run.id == run_id)
        .execution_options(populate_existing=True)
    ).one()
    run = row.Run
    return {
        "id": run.id,
        "kind": run.kind,
        "project": row.project_name,
        "environment": row.environment_name,
        "version": run.version,
        # Git projects: the ref asked for, the commit deployed and its subject ("", null, "" otherwise).
        "ref": run.ref,
        "commit": run.commit_sha,
        "commit_subject": run.commit_subject,
        "state": run.state,
        "reason": run.reason,
        "requested_by": run.requested_by,
        # A release manager's reason for deploying inside a freeze window ("": none).
        "freeze_override": run.freeze_override,
        # A pipeline's step: its pipeline run and step (None otherwise).
        "pipeline_run_id": run.pipeline_run_id,
        "pipeline_step": run.pipeline_step,
        "check": run.check_mode,
        "queued_at": iso(run.queued_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_seconds": None if run.started_at is None or run.finished_at is None else run.duration_seconds,
        "url": run_link(run.id),
        # A run that ended badly: its failed hosts, failing tasks and messages (playdeck.runs.failure_summary).
        "failure_summary": failure_summary.for_run(run.state, run.reason, run.failure_summary_json),
    }


def pending(
    run_id: int | None,
    event: str,
    payload: str,
    now: dt.datetime,
    *,
    webhook_id: int | None = None,
    destination_id: int | None = None,
    due_at: dt.datetime | None = None,
) -> WebhookDelivery:
    """A delivery to a webhook or a destination, not yet attempted, due at ``due_at`` (default: now)."""
    return WebhookDelivery(
        webhook_id=webhook_id,
        destination_id=destination_id,
        run_id=run_id,
        event=event,
        payload=payload,
        state=PENDING,
        attempts=0,
        last_error="",
        attempts_json="[]",
        created_at=now,
        next_attempt_at=due_at or now,
    )


def delivery_page(
    session: Session, owner: ColumnElement[bool], before_id: int | None, limit: int
) -> tuple[list[WebhookDelivery], bool]:
    """A delivery log (the deliveries ``owner`` picks: one webhook's, one destination's), newest first, in
    keyset pages; the flag says whether older ones exist."""
    query = select(WebhookDelivery).where(owner)
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    rows = list(session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1)))
    return rows[:limit], len(rows) > limit
