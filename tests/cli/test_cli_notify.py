"""`playdeck notify`: destinations and subscriptions from the shell, audited as the login name; bad input is
refused with exit 2 and the message, nothing stored."""

from __future__ import annotations

import re

from cryptography.fernet import Fernet
from sqlalchemy import select

from playdeck import db
from playdeck.models import AuditEvent
from playdeck.notifications import destinations
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


def test_a_json_destination_prints_its_new_secret_once_or_takes_one_from_stdin(embedded, monkeypatch):
    monkeypatch.setenv("PLAYDECK_SECRET_KEY", Fernet.generate_key().decode())
    made = playdeck("notify", "add", "bus", "--kind", "json", "--url", "https://hooks.example.test/bus")
    assert made.returncode == 0, made.stderr
    secret = re.search(r"Signing secret \(shown only this once\): (\S+)", made.stdout).group(1)
    assert len(secret) >= 40 and secret not in playdeck("notify", "list").stdout
    given = playdeck("notify", "add", "mine", "--kind", "json", "--url", "https://hooks.example.test/mine",
                     "--secret-stdin", input="ours\n")  # fmt: skip
    assert given.returncode == 0 and "Signing secret" not in given.stdout
    with db.session_scope() as session:
        signed = {d.name: d.signed for d in destinations.list_all(session)}
    assert signed == {"bus": True, "mine": True}
    both = playdeck("notify", "add", "x", "--kind", "json", "--url", "https://h.example.test/", "--unsigned",
                    "--secret-stdin", input="s\n")  # fmt: skip
    assert both.returncode == 2 and "not both" in both.stderr
    slack = playdeck("notify", "add", "chat", "--kind", "slack", "--url", "https://h.example.test/", "--secret-stdin",
                     input="s\n")  # fmt: skip
    assert slack.returncode == 2 and "only json destinations are signed" in slack.stderr
