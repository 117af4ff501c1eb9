"""Notification destinations and subscriptions through the API and the admin pages: admins only, bad input
a clear 4xx, a destination's URL never in the audit log, a test notification sent to a real receiver and
shown in the destination's delivery log."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from playdeck import webhook_delivery
from tests.conftest import as_user
from tests.webhook_receiver import allow_loopback, receiver

API = "/api/v1/notification-destinations"
PAGES = "/admin/notifications"
SECRET_URL = "https://hooks.example.test/services/T000/B000/s3cr3t-token"


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
