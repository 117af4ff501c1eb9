"""`playdeck notify`: destinations and subscriptions from the shell, audited as the login name; bad input is
refused with exit 2 and the message, nothing stored."""

from __future__ import annotations

from sqlalchemy import select

from playdeck import db
from playdeck.models import AuditEvent
from tests.cli.cli_support import playdeck


def test_a_destination_is_added_subscribed_tested_logged_and_removed(embedded):
    made = playdeck("notify", "add", "oncall", "--kind", "email", "--to", "ops@example.test,lead@example.test")
    assert made.returncode == 0, made.stderr
    assert "Destination oncall added (email)" in made.stdout
    listed = playdeck("notify", "list")
    assert "oncall" in listed.stdout and "ops@example.test,lead@example.test" in listed.stdout
    subscribed = playdeck("notify", "subscribe", "oncall", "--project", "sampleapp", "--env", "production",
                          "--events", "failed,fixed", "--quiet", "22:00-07:00", "--tz", "Europe/Berlin")  # fmt: skip
    assert subscribed.returncode == 0, subscribed.stderr
    assert "Subscription 1 of oncall added: failed, fixed." in subscribed.stdout
    subs = playdeck("notify", "subscriptions", "oncall").stdout
    assert "sampleapp" in subs and "production" in subs and "22:00-07:00 Europe/Berlin" in subs
    assert playdeck("notify", "test", "oncall").returncode == 0
    log = playdeck("notify", "log", "oncall").stdout
    assert "test" in log and "pending" in log
    assert playdeck("notify", "unsubscribe", "oncall", "1").returncode == 0
    assert "subscribed to nothing" in playdeck("notify", "subscriptions", "oncall").stdout
    assert playdeck("notify", "remove", "oncall").returncode == 0
    assert "No notification destinations" in playdeck("notify", "list").stdout
    with db.session_scope() as session:
        actions = list(
            session.scalars(
                select(AuditEvent.action).where(AuditEvent.action.like("notification.%")).order_by(AuditEvent.id)
            )
        )
    assert actions == [
        "notification.destination.create", "notification.subscription.create", "notification.destination.test",
        "notification.subscription.delete", "notification.destination.delete",
    ]  # fmt: skip


def test_bad_input_exits_2_with_the_reason(embedded):
    refused = playdeck("notify", "add", "chat", "--kind", "slack")
    assert refused.returncode == 2 and "url: must be an http:// or https:// URL" in refused.stderr
    assert playdeck("notify", "add", "chat", "--kind", "slack", "--url", "https://hooks.example.test/x").returncode == 0
    for args, words in [
        (("--project", "nosuch"), "no project named 'nosuch'"),
        (("--events", "deployed"), "unknown event(s) deployed"),
        (("--quiet", "22:00"), "HH:MM-HH:MM"),
        (("--quiet", "22:00-07:00", "--tz", "Atlantis/Capital"), "unknown time zone"),
    ]:
        result = playdeck("notify", "subscribe", "chat", *args)
        assert result.returncode == 2 and words in result.stderr, (args, result.stderr)
    assert "subscribed to nothing" in playdeck("notify", "subscriptions", "chat").stdout
    missing = playdeck("notify", "subscribe", "nosuch")
    assert missing.returncode == 2 and "no notification destination named nosuch" in missing.stderr
