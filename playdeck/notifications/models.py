"""Tables of routed notifications: named destinations, what each is subscribed to, and the run notices
that must be sent once (``running_long``).

Deliveries go through the webhooks' outbox (``playdeck.models.WebhookDelivery``, with ``destination_id``
set instead of ``webhook_id``): one sender, one retry policy, one delivery log for both.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from playdeck.model_base import NEVER_REUSE_IDS, Base, BigId, Timestamp, utcnow


class NotificationDestination(Base):
    """Where notifications go, by name: a Slack-style, Teams or JSON webhook URL, or e-mail recipients.
    The URL may hold a credential (Slack's and Teams' do): only admins see destinations."""

    __tablename__ = "notification_destinations"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # slack | teams | json | email
    kind: Mapped[str] = mapped_column(String(10))
    # The http kinds' URL ("" for e-mail).
    url: Mapped[str] = mapped_column(String(2048), default="")
    # E-mail: the recipients' addresses, comma-separated ("" for the http kinds).
    recipients: Mapped[str] = mapped_column(Text, default="")
    # A json destination's signing secret, sealed (``playdeck.signing``; "": unsigned).
    secret_ciphertext: Mapped[str] = mapped_column(Text, default="", server_default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")


class NotificationSubscription(Base):
    """A destination hears of these events of this project's runs in this environment (None: every
    project / every environment of that name)."""

    __tablename__ = "notification_subscriptions"
    __table_args__ = (
        Index("ix_notification_subscriptions_destination", "destination_id"),
        Index("ix_notification_subscriptions_project", "project_id"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    destination_id: Mapped[int] = mapped_column(ForeignKey("notification_destinations.id", ondelete="CASCADE"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # By name, not id: "production" of every project when project_id is None.
    environment: Mapped[str | None] = mapped_column(String(100))
    # Comma-separated event names (playdeck.notifications.events.EVENTS).
    events: Mapped[str] = mapped_column(String(255))
    failure_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Quiet hours: "HH:MM" to "HH:MM" in an IANA zone (all three or none).
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    quiet_zone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")


class RunNotice(Base):
    """An event that is noticed by a duty rather than a state change, recorded once per run: the primary
    key makes a second reaper's insert fail, so the notification is enqueued once."""

    __tablename__ = "run_notices"

    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    event: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
