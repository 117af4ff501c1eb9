"""Notification destinations and subscriptions through the API and the admin pages: admins only, bad input
a clear 4xx, a destination's URL never in the audit log, a test notification sent to a real receiver and
shown in the destination's delivery log."""

from __future__ import annotations

import hashlib
import hmac
import re
import time

import pytest
from cryptography.fernet import Fernet
from flask.testing import FlaskClient

from playdeck import webhook_delivery
from playdeck.settings import get_settings
from tests.conftest import as_user
from tests.webhook_receiver import Received, allow_loopback, receiver

API = "/api/v1/notification-destinations"
PAGES = "/admin/notifications"
SECRET_URL = "https://hooks.example.test/services/T000/B000/s3cr3t-token"


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """JSON destinations sign their deliveries with a secret kept under this key."""
    monkeypatch.setenv("PLAYDECK_SECRET_KEY", Fernet.generate_key().decode())


def make(client: FlaskClient, **fields) -> dict:
    made = client.post(API, json=fields)
    assert made.status_code == 201, made.json
    return made.json


def test_an_admin_makes_destinations_and_subscribes_them(client: FlaskClient):
    chat = make(client, name="ops-chat", kind="slack", url=SECRET_URL)
    mail = make(client, name="release-mail", kind="email", recipients=["rm@example.test", "lead@example.test"])
    assert (chat["kind"], chat["url"], chat["recipients"], chat["active"]) == ("slack", SECRET_URL, [], True)
    assert (mail["url"], mail["recipients"]) == ("", ["rm@example.test", "lead@example.test"])

    sub = client.post(f"{API}/release-mail/subscriptions", json={
        "project": "sampleapp", "environment": "production", "events": ["approval_requested", "failed"],
        "quiet_start": "22:00", "quiet_end": "07:00", "quiet_zone": "Europe/Berlin"})  # fmt: skip
    assert sub.status_code == 201, sub.json
    assert (sub.json["project"], sub.json["environment"], sub.json["events"], sub.json["quiet_hours"]) == (
        "sampleapp", "production", ["failed", "approval_requested"],
        {"start": "22:00", "end": "07:00", "zone": "Europe/Berlin"},
    )  # fmt: skip
    everything = client.post(f"{API}/ops-chat/subscriptions", json={"failure_only": True})
    assert everything.status_code == 201 and everything.json["project"] is None and everything.json["failure_only"]

    listed = client.get(API).json["destinations"]
    assert [d["name"] for d in listed] == ["ops-chat", "release-mail"]
    one = client.get(f"{API}/release-mail").json
    assert [s["id"] for s in one["subscriptions"]] == [sub.json["id"]]
    paused = client.patch(f"{API}/ops-chat", json={"active": False})
    assert paused.status_code == 200 and paused.json["active"] is False
    assert client.delete(f"{API}/release-mail/subscriptions/{sub.json['id']}").status_code == 204
    assert client.get(f"{API}/release-mail/subscriptions").json["subscriptions"] == []
    assert client.delete(f"{API}/ops-chat").status_code == 204
    assert client.get(f"{API}/ops-chat").status_code == 404

    audit = client.get("/api/v1/audit?action=notification.").json
    assert {e["action"] for e in audit["events"]} >= {
        "notification.destination.create", "notification.subscription.create", "notification.destination.delete"
    }  # fmt: skip
    assert "s3cr3t" not in str(audit) and "https://hooks.example.test" in str(audit)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"name": "x", "kind": "pager"}, "kind", "slack, teams, json, email"),
        ({"name": "bad name", "kind": "json", "url": "https://example.test/"}, "name", "letters, digits"),
        ({"name": "m", "kind": "email", "url": "https://example.test/"}, "url", "recipients, not a URL"),
        ({"name": "m", "kind": "email", "recipients": ["a@b.test", "Eve <e@x.test>\r\nBcc: all@x.test"]},
         "recipients", "plain e-mail address"),
        ({"name": "m", "kind": "email"}, "recipients", "non-empty list"),
        ({"name": "s", "kind": "slack"}, "url", "http:// or https://"),
        ({"name": "s", "kind": "slack", "url": "http://127.0.0.1:8000/api/v1/users"}, "url", "may not reach"),
        ({"name": "s", "kind": "teams", "url": "https://example.test/", "recipients": ["a@b.test"]},
         "recipients", "URL, not recipients"),
        ({"kind": "json", "url": "https://example.test/"}, "name", "is required"),
        ({"name": "s", "kind": "json", "url": "https://example.test/", "colour": "red"}, None, "colour"),
    ],
)  # fmt: skip
def test_a_bad_destination_is_a_clear_400(client: FlaskClient, fields, field, words):
    refused = client.post(API, json=fields)
    assert refused.status_code == 400, refused.json
    assert words in refused.json["error"]
    if field:
        assert refused.json["field"] == field
    assert client.get(API).json["destinations"] == []


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"project": "nosuch"}, "project", "no project named 'nosuch'"),
        ({"project": "sampleapp", "environment": "qa"}, "environment", "it has production, staging"),
        ({"events": ["deployed"]}, "events", "unknown event(s) deployed"),
        ({"events": []}, "events", "non-empty list"),
        ({"failure_only": True, "events": ["succeeded"]}, "events", "failure_only sends only"),
        ({"failure_only": "yes"}, "failure_only", "true or false"),
        ({"quiet_start": "22:00", "quiet_end": "07:00"}, "quiet_hours", "together"),
        ({"quiet_start": "22:00", "quiet_end": "22:00", "quiet_zone": "UTC"}, "quiet_end", "empty window"),
        ({"quiet_start": "25:00", "quiet_end": "07:00", "quiet_zone": "UTC"}, "quiet_start", "HH:MM"),
        ({"quiet_start": "22:00", "quiet_end": "07:00", "quiet_zone": "Mars/Base"}, "quiet_zone", "unknown time zone"),
    ],
)
def test_a_bad_subscription_is_a_clear_400(client: FlaskClient, fields, field, words):
    make(client, name="ops", kind="json", url="https://example.test/hook")
    refused = client.post(f"{API}/ops/subscriptions", json=fields)
    assert refused.status_code == 400, refused.json
    assert refused.json["field"] == field and words in refused.json["error"]
    assert client.get(f"{API}/ops/subscriptions").json["subscriptions"] == []


def test_names_are_unique_and_unknown_ones_not_found(client: FlaskClient):
    make(client, name="ops", kind="json", url="https://example.test/hook")
    again = client.post(API, json={"name": "ops", "kind": "slack", "url": "https://example.test/other"})
    assert again.status_code == 409 and "exists already" in again.json["error"]
    assert client.post(f"{API}/nosuch/subscriptions", json={}).status_code == 404
    assert client.delete(f"{API}/ops/subscriptions/12345").status_code == 404


def test_only_admins_see_or_change_destinations(client: FlaskClient):
    make(client, name="ops", kind="slack", url=SECRET_URL)
    for role in ("viewer", "developer", "release_manager"):
        headers = as_user(f"a-{role}", role)
        assert client.get(API, headers=headers).status_code == 403
        assert client.get(f"{API}/ops", headers=headers).status_code == 403
        assert client.post(f"{API}/ops/test", headers=headers).status_code == 403
        assert client.get(PAGES, headers=headers).status_code == 403


def test_a_test_notification_reaches_the_receiver_and_shows_in_the_log(client: FlaskClient, monkeypatch):
    allow_loopback(monkeypatch)
    with receiver() as teams:
        make(client, name="channel", kind="teams", url=teams.url)
        queued = client.post(f"{API}/channel/test")
        assert queued.status_code == 202 and queued.json["state"] == "pending"
        webhook_delivery.deliver_due()
        (got,) = teams.wait_for(1)
    assert "test notification for destination channel" in got.json["attachments"][0]["content"]["body"][0]["text"]
    (logged,) = client.get(f"{API}/channel/deliveries").json["deliveries"]
    assert (logged["event"], logged["state"], logged["last_status_code"], logged["webhook_id"]) == (
        "test", "delivered", 200, None
    )  # fmt: skip


def test_an_admin_works_with_destinations_on_the_pages(client: FlaskClient):
    assert "No destinations yet" in client.get(PAGES).get_data(as_text=True)
    added = client.post(PAGES, data={"name": "oncall", "kind": "email", "target": "a@x.test, b@x.test", "active": "1"})
    assert added.status_code == 303 and added.headers["Location"].endswith(f"{PAGES}/oncall")
    subscribed = client.post(f"{PAGES}/oncall/subscriptions", data={
        "project": "sampleapp", "environment": "production", "events": ["failed", "running_long"]})  # fmt: skip
    assert subscribed.status_code == 303
    page = client.get(f"{PAGES}/oncall").get_data(as_text=True)
    assert "a@x.test, b@x.test" in page and "failed, running_long" in page and "Nothing sent yet" in page
    assert client.post(f"{PAGES}/oncall/test").status_code == 303
    assert "<td>test</td>" in client.get(f"{PAGES}/oncall").get_data(as_text=True)

    refused = client.post(f"{PAGES}/oncall/subscriptions", data={
        "events": ["failed"], "quiet_start": "22:00", "quiet_end": "07:00", "quiet_zone": "Nowhere/Land"})  # fmt: skip
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "unknown time zone" in text and 'value="Nowhere/Land"' in text
    bad = client.post(PAGES, data={"name": "x", "kind": "slack", "target": "ftp://example.test/"})
    assert bad.status_code == 400 and "http:// or https://" in bad.get_data(as_text=True)
    assert client.post(f"{PAGES}/oncall/delete").status_code == 303
    assert "No destinations yet" in client.get(PAGES).get_data(as_text=True)


# --- signed JSON destinations ---------------------------------------------------------------------------

# How long a receiver accepts a delivery after it was signed (what README suggests).
TOLERANCE_SECONDS = 300


def verified(secret: str, got: Received, now: float | None = None) -> bool:
    """What a receiver does, as README tells it: a recent timestamp, and the signature of
    ``<timestamp>.<body>`` under the destination's secret, compared in constant time."""
    timestamp = got.headers.get("X-Playdeck-Timestamp", "")
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + got.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, got.headers.get("X-Playdeck-Signature", ""))


def test_a_json_destination_signs_what_a_verifying_receiver_accepts(client: FlaskClient, monkeypatch):
    allow_loopback(monkeypatch)
    secrets = {"now": ""}
    with receiver(answer=lambda got: 200 if verified(secrets["now"], got) else 401) as bus:
        made = client.post(API, json={"name": "bus", "kind": "json", "url": bus.url})
        assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
        secrets["now"] = made.json["secret"]
        assert made.json["signed"] and len(secrets["now"]) >= 40
        # Shown that once: never in a read, a list or the audit log.
        assert "secret" not in client.get(f"{API}/bus").json and client.get(f"{API}/bus").json["signed"]
        assert secrets["now"] not in client.get(API).get_data(as_text=True)
        audited = client.get("/api/v1/audit").get_data(as_text=True)
        assert "notification.destination.create" in audited and secrets["now"] not in audited

        assert client.post(f"{API}/bus/test").status_code == 202
        webhook_delivery.deliver_due()
        (first,) = bus.wait_for(1)
        log = client.get(f"{API}/bus/deliveries").json["deliveries"]
        assert [(entry["state"], entry["last_status_code"]) for entry in log] == [("delivered", 200)]

        # A recorded delivery played again later is refused; so is one whose timestamp was changed.
        assert not verified(secrets["now"], first, now=int(first.headers["X-Playdeck-Timestamp"]) + 3600)
        moved = Received(first.path, {**first.headers, "X-Playdeck-Timestamp": str(int(time.time()) + 1)}, first.body)
        assert not verified(secrets["now"], moved)
        assert not verified(secrets["now"], Received(first.path, first.headers, first.body + b" "))

        # The admin sets the secret: deliveries are signed with it from then on; the old one no longer verifies.
        old = secrets["now"]
        changed = client.patch(f"{API}/bus", json={"secret": "rotated-by-the-admin"})
        assert changed.status_code == 200 and "secret" not in changed.json
        secrets["now"] = "rotated-by-the-admin"
        client.post(f"{API}/bus/test")
        webhook_delivery.deliver_due()
        second = bus.wait_for(2)[1]
    assert verified("rotated-by-the-admin", second) and not verified(old, second)
    assert [entry["state"] for entry in client.get(f"{API}/bus/deliveries").json["deliveries"]] == ["delivered"] * 2


def test_a_json_destination_given_a_secret_or_none_and_secrets_refused_elsewhere(client: FlaskClient, monkeypatch):
    allow_loopback(monkeypatch)
    with receiver() as plain:
        given = client.post(API, json={"name": "mine", "kind": "json", "url": plain.url, "secret": "ours"})
        assert given.status_code == 201 and given.json["signed"] and "secret" not in given.json
        unsigned = make(client, name="open", kind="json", url=plain.url, secret="")
        assert not unsigned["signed"] and "secret" not in unsigned
        client.post(f"{API}/open/test")
        webhook_delivery.deliver_due()
        (got,) = plain.wait_for(1)
    assert "X-Playdeck-Signature" not in got.headers and "X-Playdeck-Timestamp" not in got.headers
    for fields, words in (
        ({"kind": "slack", "secret": "x"}, "only json destinations are signed"),
        ({"kind": "json", "secret": 5}, "must be text"),
        ({"kind": "json", "secret": "x" * 1025}, "at most 1024"),
    ):
        refused = client.post(API, json={"name": "bad", "url": "https://example.test/hook", **fields})
        assert refused.status_code == 400 and refused.json["field"] == "secret" and words in refused.json["error"]
    assert client.patch(f"{API}/mine", json={"secret": None}).status_code == 400
    assert not client.patch(f"{API}/mine", json={"secret": ""}).json["signed"]


def test_without_a_secrets_key_a_signed_destination_is_refused_with_what_to_do(client: FlaskClient, monkeypatch):
    monkeypatch.delenv("PLAYDECK_SECRET_KEY")
    get_settings.cache_clear()
    refused = client.post(API, json={"name": "bus", "kind": "json", "url": "https://example.test/hook"})
    assert refused.status_code == 503 and "PLAYDECK_SECRET_KEY is not set" in refused.json["error"]
    assert client.get(f"{API}/bus").status_code == 404
    assert make(client, name="bus", kind="json", url="https://example.test/hook", secret="")["signed"] is False


def test_the_page_shows_a_new_json_destinations_secret_once(client: FlaskClient):
    fields = {"name": "bus", "kind": "json", "target": "https://example.test/hook", "active": "1"}
    added = client.post(PAGES, data=fields)
    page = added.get_data(as_text=True)
    assert added.status_code == 200 and added.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<code id="new-secret-value">([^<]+)</code>', page).group(1)
    assert "shown only this once" in page and "Signed: X-Playdeck-Timestamp" in page
    again = client.get(f"{PAGES}/bus").get_data(as_text=True)
    assert secret not in again and "Signed: X-Playdeck-Timestamp" in again
    assert client.get(f"{API}/bus").json["signed"]
    taken = client.post(PAGES, data=fields)
    assert taken.status_code == 409 and "exists already" in taken.get_data(as_text=True)
