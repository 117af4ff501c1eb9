"""`playdeck webhook add|list|remove`: a project's webhooks from the shell, audited as the login name;
bad input is refused with exit 2 and a message, nothing stored."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from playdeck import db, webhooks
from playdeck.models import AuditEvent, Webhook
from tests.cli.cli_support import playdeck, start_playdeck, stop_process_tree
from tests.conftest import use_key
from tests.webhook_receiver import allow_loopback, receiver


@pytest.fixture(autouse=True)
def _loopback_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    allow_loopback(monkeypatch)


def test_a_webhook_is_added_listed_and_removed(embedded, monkeypatch):
    use_key(monkeypatch, Fernet.generate_key().decode())
    made = playdeck(
        "webhook", "add", "sampleapp", "https://hooks.example.test/x", "--format", "slack", "--events", "failed,lost",
        "--signed", input="s3cret\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "Webhook 1 of sampleapp added: failed, lost as slack" in made.stdout
    listed = playdeck("webhook", "list", "sampleapp")
    assert listed.returncode == 0 and "https://hooks.example.test/x" in listed.stdout and "failed,lost" in listed.stdout
    assert "s3cret" not in listed.stdout
    assert playdeck("webhook", "remove", "sampleapp", "1").returncode == 0
    assert "No webhooks for sampleapp" in playdeck("webhook", "list", "sampleapp").stdout
    with db.session_scope() as session:
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("webhook.%"))))
    assert actions == ["webhook.create", "webhook.delete"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["sampleapp", "gopher://example.test/"], "http"),
        (["sampleapp", "https://example.test/", "--events", "deployed"], "deployed"),
        (["nosuch", "https://example.test/"], "nosuch"),
        # Loopback is allowed in these tests; the cloud's metadata service is not.
        (["sampleapp", "http://169.254.169.254/latest/meta-data/"], "link-local"),
    ],
)
def test_bad_webhooks_are_refused(embedded, args, says):
    refused = playdeck("webhook", "add", *args)
    assert refused.returncode == 2 and says in refused.stderr
    with db.session_scope() as session:
        assert session.scalar(select(Webhook.id)) is None


def test_removing_an_unknown_webhook_fails(embedded):
    refused = playdeck("webhook", "remove", "sampleapp", "7")
    assert refused.returncode == 2 and "no webhook 7" in refused.stderr


def test_the_reaper_sends_the_notifications(embedded, tmp_path):
    with receiver() as hook_receiver:
        with db.session_scope() as session:
            hook = webhooks.create_webhook(session, "sampleapp", hook_receiver.url, who="tests")
            webhooks.enqueue_test(session, "sampleapp", hook.id, who="tests")
        reaper = start_playdeck("reaper", log=tmp_path / "reaper.log")
        try:
            (got,) = hook_receiver.wait_for(1)
        finally:
            stop_process_tree(reaper, timeout=15)
    assert got.json["event"] == "test"
