"""Webhook notifications: recorded with the run's state change (and rolled back with it), sent to a real
local HTTP receiver, retried with backoff, given up on a client error, signed with a secret, in JSON or
Slack's format; a paused webhook sends nothing. Managed through the API by admins, every change audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket
import time

import pytest
from cryptography.fernet import Fernet
from flask.testing import FlaskClient
from sqlalchemy import select, update

from playdeck import db, projects, webhook_delivery, webhooks
from playdeck.models import AuditEvent, Webhook, WebhookDelivery
from playdeck.runs.lost import record_lost
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run
from playdeck.settings import get_settings, load_settings
from tests.conftest import authorize, cancel_run, configure
from tests.webhook_receiver import LOOPBACK, receiver
from webui import create_app

HOOKS = "/api/v1/projects/sampleapp/webhooks"


@pytest.fixture
def admin(monkeypatch, tmp_path) -> FlaskClient:
    # Retries after 0.05 s, 0.1 s, ...: the backoff is real, only short.
    configure(
        monkeypatch,
        data_dir=str(tmp_path / "data"),
        secret_key=Fernet.generate_key().decode(),
        webhook_retry_seconds="0.05",
        webhook_max_attempts="4",
        webhook_allowed_networks=LOOPBACK,
    )
    client = create_app({"TESTING": True}).test_client()
    authorize(client, "root", "admin")
    return client


def add_hook(client: FlaskClient, url: str, **fields) -> dict:
    made = client.post(HOOKS, json={"url": url, **fields})
    assert made.status_code == 201, made.json
    return made.json


def submit(environment: str = "staging", **fields) -> int:
    request = RunRequest(project="sampleapp", environment=environment, version="1.2.3", requested_by="alice")
    for name, value in fields.items():
        setattr(request, name, value)
    with db.session_scope() as session:
        return request_run(session, request).id


def start(run_id: int) -> bool:
    with db.session_scope() as session:
        return claim_run(session, run_id, "testhost", 123)


def finish(run_id: int, state: RunState, reason: str = "") -> None:
    with db.session_scope() as session:
        assert finish_run(session, run_id, state, rc=0, reason=reason)


def deliveries() -> list[WebhookDelivery]:
    with db.session_scope() as session:
        found = list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
        session.expunge_all()
        return found


def deliver_until_settled(timeout: float = 30) -> list[WebhookDelivery]:
    """Delivery passes, as the reaper's thread makes them, until nothing is pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        webhook_delivery.deliver_due()
        found = deliveries()
        if all(delivery.state != webhooks.PENDING for delivery in found):
            return found
        time.sleep(0.02)
    raise TimeoutError("deliveries still pending")


def test_a_run_that_starts_and_succeeds_notifies_twice_with_the_run(admin: FlaskClient):
    with receiver() as hook_receiver:
        hook = add_hook(admin, hook_receiver.url)
        run_id = submit()
        assert deliveries() == []  # queued is no event
        assert start(run_id)
        finish(run_id, RunState.SUCCESSFUL)
        settled = deliver_until_settled()
        got = hook_receiver.received

    assert [(d.event, d.state, d.attempts, d.last_status_code) for d in settled] == [
        ("started", "delivered", 1, 200),
        ("succeeded", "delivered", 1, 200),
    ]
    assert [r.headers["X-Playdeck-Event"] for r in got] == ["run.started", "run.succeeded"]
    assert "X-Playdeck-Signature" not in got[0].headers
    started, succeeded = (r.json for r in got)
    assert started["event"] == "run.started" and started["run"]["state"] == "running"
    assert started["run"]["finished_at"] is None
    run = succeeded["run"]
    assert succeeded["event"] == "run.succeeded"
    assert (run["id"], run["project"], run["environment"], run["version"], run["state"], run["requested_by"]) == (
        run_id,
        "sampleapp",
        "staging",
        "1.2.3",
        "successful",
        "alice",
    )
    assert run["duration_seconds"] >= 0 and run["url"].endswith(f"/runs/{run_id}")
    log = admin.get(f"{HOOKS}/{hook['id']}/deliveries").json["deliveries"]
    assert [(d["event"], d["state"], [a["status_code"] for a in d["attempt_log"]]) for d in log] == [
        ("succeeded", "delivered", [200]),
        ("started", "delivered", [200]),
    ]


def test_a_failing_receiver_is_retried_with_backoff_and_the_log_shows_each_attempt(admin: FlaskClient):
    with receiver(statuses=[500, 500]) as hook_receiver:
        hook = add_hook(admin, hook_receiver.url, events=["started"])
        assert start(submit())
        settled = deliver_until_settled()
        got = hook_receiver.received

    assert len(got) == 3 and len({r.headers["X-Playdeck-Delivery"] for r in got}) == 1
    assert len({r.body for r in got}) == 1  # the same notification each time
    (delivery,) = settled
    assert (delivery.state, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "delivered", 3, 200, ""
    )  # fmt: skip
    log = admin.get(f"{HOOKS}/{hook['id']}/deliveries").json["deliveries"][0]
    assert [a["status_code"] for a in log["attempt_log"]] == [500, 500, 200]
    # Each retry waited at least its backoff: 0.05 s, then twice that.
    times = [dt.datetime.fromisoformat(a["at"]) for a in log["attempt_log"]]
    waits = [(later - earlier).total_seconds() for earlier, later in zip(times, times[1:], strict=False)]
    assert waits[0] >= 0.05 and waits[1] >= 0.1
    assert log["attempt_log"][0]["error"] == "HTTP 500 Internal Server Error"
    page = admin.get(f"/projects/sampleapp/webhooks/{hook['id']}")
    assert page.status_code == 200 and page.get_data(as_text=True).count("HTTP 500") == 2
    # What the receiver answered is never shown: a webhook aimed at an internal service would read it.
    assert "receiver says no" not in page.get_data(as_text=True) + json.dumps(log)


def test_a_receiver_that_keeps_failing_is_given_up_after_the_last_attempt(admin: FlaskClient):
    with receiver(statuses=[503] * 10) as hook_receiver:
        add_hook(admin, hook_receiver.url, events=["started"])
        assert start(submit())
        (delivery,) = deliver_until_settled()
        assert len(hook_receiver.received) == 4
    assert (delivery.state, delivery.attempts) == ("failed", 4)
    assert "gave up after 4 attempts" in delivery.last_error


def test_a_client_error_is_not_retried(admin: FlaskClient):
    with receiver(statuses=[404]) as hook_receiver:
        add_hook(admin, hook_receiver.url, events=["started"])
        assert start(submit())
        (delivery,) = deliver_until_settled()
        assert len(hook_receiver.received) == 1
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("failed", 1, 404)


def test_an_unreachable_receiver_is_retried(admin: FlaskClient):
    with receiver() as hook_receiver:
        url = hook_receiver.url
    # The receiver is gone: nothing listens on its port now.
    add_hook(admin, url, events=["started"])
    assert start(submit())
    assert list(webhook_delivery.deliver_due().values()) == ["pending"]
    (delivery,) = deliveries()
    assert delivery.attempts == 1 and delivery.last_status_code is None and "ConnectionError" in delivery.last_error
    assert url not in delivery.last_error  # a URL can hold a credential; the error names the host only


def test_slack_format_sends_text_and_a_secret_signs_the_body(admin: FlaskClient):
    with receiver() as hook_receiver:
        hook = add_hook(admin, hook_receiver.url, format="slack", events=["failed"], secret="s3cret")
        assert hook["signed"] and "s3cret" not in json.dumps(hook)
        run_id = submit()
        assert start(run_id)
        finish(run_id, RunState.FAILED, reason="host2: Fail here: boom <b>")
        deliver_until_settled()
        (got,) = hook_receiver.received

    assert set(got.json) == {"text"}
    text = got.json["text"]
    assert "sampleapp/staging" in text and f"run {run_id}" in text and "failed" in text
    assert "boom &lt;b&gt;" in text  # Slack's own escaping: a reason cannot inject markup
    expected = "sha256=" + hmac.new(b"s3cret", got.body, hashlib.sha256).hexdigest()
    assert got.headers["X-Playdeck-Signature"] == expected


def test_canceled_lost_timeout_and_error_runs_notify(admin: FlaskClient):
    with receiver() as hook_receiver:
        add_hook(admin, hook_receiver.url, events=["canceled", "lost", "timeout", "failed"])
        canceled = submit()
        cancel_run(canceled, "bob")
        lost = submit(environment="production")
        assert start(lost)
        with db.session_scope() as session:
            assert record_lost(session, lost, "no heartbeat from worker w1 for 40 s")
        timed_out = submit()
        assert start(timed_out)
        finish(timed_out, RunState.TIMEOUT, reason="stopped after 3600 s")
        errored = submit()
        assert start(errored)
        finish(errored, RunState.ERROR, reason="the playbook does not exist")
        deliver_until_settled()
        got = [r.json for r in hook_receiver.received]

    assert [(body["event"], body["run"]["id"]) for body in got] == [
        ("run.canceled", canceled),
        ("run.lost", lost),
        ("run.timeout", timed_out),
        ("run.failed", errored),
    ]
    assert got[0]["run"]["reason"] == "canceled by bob before it started"
    assert got[1]["run"]["reason"].startswith("no heartbeat")
    assert got[3]["run"]["state"] == "error"


def test_superseded_runs_notify_their_cancel(admin: FlaskClient):
    admin.post("/api/v1/projects/sampleapp/webhooks", json={"url": "http://127.0.0.1:9/", "events": ["canceled"]})
    with db.session_scope() as session:
        projects.get_project(session, "sampleapp").supersede_queued = True
    older = submit()
    newer = submit()
    assert [(d.event, d.run_id, json.loads(d.payload)["run"]["reason"]) for d in deliveries()] == [
        ("canceled", older, f"superseded by run {newer}")
    ]


def test_a_claim_rolled_back_for_a_locked_environment_notifies_nothing(admin: FlaskClient):
    add_hook(admin, "http://127.0.0.1:9/", events=["started"])
    first, second = submit(), submit()
    assert start(first)
    # The environment's deploy lock is held by the first: the second stays queued, its claim rolled back.
    assert not start(second)
    assert [(d.event, d.run_id) for d in deliveries()] == [("started", first)]


def test_an_inactive_webhook_sends_nothing(admin: FlaskClient):
    with receiver() as hook_receiver:
        paused = add_hook(admin, hook_receiver.url, active=False)
        assert not paused["active"]
        run_id = submit()
        assert start(run_id)
        # Paused after a notification was recorded: that one is given up, not sent.
        live = add_hook(admin, hook_receiver.url, events=["succeeded"])
        finish(run_id, RunState.SUCCESSFUL)
        assert admin.patch(f"{HOOKS}/{live['id']}", json={"active": False}).json["active"] is False
        settled = deliver_until_settled()
        assert hook_receiver.received == []
    assert [(d.webhook_id, d.state, d.last_error) for d in settled] == [
        (live["id"], "failed", "the webhook was deactivated")
    ]


def test_a_test_delivery_reaches_the_receiver(admin: FlaskClient):
    with receiver() as hook_receiver:
        hook = add_hook(admin, hook_receiver.url, active=False)
        queued = admin.post(f"{HOOKS}/{hook['id']}/test")
        assert queued.status_code == 202 and queued.json["state"] == "pending"
        deliver_until_settled()
        (got,) = hook_receiver.received
    assert got.json == {"event": "test", "project": "sampleapp", "webhook_id": hook["id"], "sent_by": "root"}
    assert admin.get(f"{HOOKS}/{hook['id']}/deliveries").json["deliveries"][0]["state"] == "delivered"


def test_admins_manage_webhooks_and_every_change_is_audited(admin: FlaskClient):
    hook = add_hook(admin, "https://hooks.example.test/services/T0/B0/XYZ", format="slack", events=["failed"])
    assert admin.get(HOOKS).json["webhooks"] == [hook]
    assert hook["events"] == ["failed"] and hook["created_by"] == "root"
    assert admin.patch(f"{HOOKS}/{hook['id']}", json={"active": False}).json["active"] is False
    assert admin.delete(f"{HOOKS}/{hook['id']}").status_code == 204
    assert admin.get(HOOKS).json["webhooks"] == []
    assert admin.get(f"{HOOKS}/{hook['id']}").status_code == 404
    with db.session_scope() as session:
        audited = [(e.action, e.actor, e.details) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    webhook_events = [entry for entry in audited if entry[0].startswith("webhook.")]
    assert [(action, actor) for action, actor, _ in webhook_events] == [
        ("webhook.create", "root"),
        ("webhook.update", "root"),
        ("webhook.delete", "root"),
    ]
    # The URL's path is Slack's credential: only the host is recorded.
    assert "XYZ" not in json.dumps(audited) and webhook_events[0][2]["host"] == "https://hooks.example.test"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.test/"}, "url"),
        ({"url": "http:///nohost"}, "url"),
        ({"url": "http://example.test/a b"}, "url"),
        ({"url": "http://example.test:99999/"}, "url"),
        ({"url": "http://example.test/", "format": "xml"}, "format"),
        ({"url": "http://example.test/", "events": ["deployed"]}, "events"),
        ({"url": "http://example.test/", "events": []}, "events"),
        ({"url": "http://example.test/", "active": "yes"}, "active"),
        ({"url": "http://example.test/", "secret": 5}, "secret"),
        ({"url": "http://example.test/", "colour": "red"}, "body"),
        ({}, "url"),
    ],
)
def test_bad_webhooks_are_refused_with_the_field_at_fault(admin: FlaskClient, body, field):
    refused = admin.post(HOOKS, json=body)
    assert refused.status_code == 400 and refused.json["field"] == field, refused.json
    assert admin.get(HOOKS).json["webhooks"] == []


def test_only_admins_see_or_manage_webhooks(admin: FlaskClient):
    hook = add_hook(admin, "http://127.0.0.1:9/")
    authorize(admin, "rm", "release_manager")
    assert admin.get(HOOKS).status_code == 403
    assert admin.get(f"{HOOKS}/{hook['id']}/deliveries").status_code == 403
    assert admin.post(HOOKS, json={"url": "http://127.0.0.1:9/"}).status_code == 403
    assert admin.delete(f"{HOOKS}/{hook['id']}").status_code == 403


def test_a_webhook_of_another_project_is_not_found(admin: FlaskClient):
    hook = add_hook(admin, "http://127.0.0.1:9/")
    assert admin.get(f"/api/v1/projects/nosuch/webhooks/{hook['id']}").status_code == 404


# --- where webhooks may not go ----------------------------------------------------------------------

REFUSED_URLS = [
    ("http://127.0.0.1:9/hook", "loopback"),
    ("http://localhost:9/hook", "loopback"),
    ("http://[::1]:9/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]:9/", "loopback"),
    ("http://[2002:7f00:1::1]/", "loopback"),  # 6to4 of 127.0.0.1
    ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),  # NAT64 of 169.254.169.254
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://10.1.2.3/", "private"),
    ("https://192.168.1.1/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://[fc00::1]/", "private"),
    ("http://0.0.0.0:9/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
]


@pytest.fixture
def strict_admin(monkeypatch, tmp_path) -> FlaskClient:
    """An admin of an install that allows no internal network (the default)."""
    configure(monkeypatch, data_dir=str(tmp_path / "data"))
    client = create_app({"TESTING": True}).test_client()
    authorize(client, "root", "admin")
    return client


@pytest.mark.parametrize(("url", "kind"), REFUSED_URLS)
def test_a_webhook_aimed_at_this_machine_or_an_internal_network_is_refused(strict_admin: FlaskClient, url, kind):
    # Refused from the address alone: no request is sent anywhere (these are literals, or localhost).
    refused = strict_admin.post(HOOKS, json={"url": url})
    assert refused.status_code == 400 and refused.json["field"] == "url"
    assert f"a {kind} address" in refused.json["error"] and "PLAYDECK_WEBHOOK_ALLOWED_NETWORKS" in refused.json["error"]
    assert strict_admin.get(HOOKS).json["webhooks"] == []


def test_the_allow_list_opens_only_the_networks_it_names(admin: FlaskClient):
    assert admin.post(HOOKS, json={"url": "http://127.0.0.1:9/"}).status_code == 201
    for url in ("http://10.1.2.3/", "http://169.254.169.254/", "http://[fe80::1]/"):
        refused = admin.post(HOOKS, json={"url": url})
        assert refused.status_code == 400 and refused.json["field"] == "url", url


def test_a_delivery_to_an_address_refused_since_is_given_up_without_a_request(admin: FlaskClient, monkeypatch):
    with receiver() as hook_receiver:
        add_hook(admin, hook_receiver.url, events=["started"])
        # An address allowed when the webhook was made (or before this check existed) is checked again.
        with db.session_scope() as session:
            hook = webhooks.create_webhook(session, "sampleapp", "http://127.0.0.1:9/", events=["started"], who="tests")
            session.execute(
                update(Webhook).where(Webhook.id == hook.id).values(url="http://169.254.169.254/latest/meta-data/")
            )
        monkeypatch.delenv("PLAYDECK_WEBHOOK_ALLOWED_NETWORKS")
        get_settings.cache_clear()
        assert start(submit())
        settled = deliver_until_settled()
        assert hook_receiver.received == []
    assert [(d.state, d.attempts, d.last_status_code) for d in settled] == [("failed", 1, None)] * 2
    errors = sorted(d.last_error for d in settled)
    assert "a link-local address (169.254.169.254)" in errors[0] and "a loopback address (127.0.0.1)" in errors[1]


def test_a_delivery_connects_to_the_address_it_checked(admin: FlaskClient, monkeypatch):
    """DNS rebinding: the name answers an allowed address for the checks, then another one. The request
    still goes to the checked address, with the name in its Host header."""
    monkeypatch.setenv("PLAYDECK_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1/32")
    get_settings.cache_clear()
    real_getaddrinfo = socket.getaddrinfo
    answers = ["127.0.0.1", "127.0.0.1"]  # the check at creation, the check at delivery; then 127.0.0.2

    def rebinding(host, *args, **kwargs):
        if host == "rebind.test":
            host = answers.pop(0) if answers else "127.0.0.2"
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with receiver() as hook_receiver:
        port = int(hook_receiver.url.split(":")[2].split("/")[0])
        add_hook(admin, f"http://rebind.test:{port}/hook", events=["started"])
        assert start(submit())
        (delivery,) = deliver_until_settled()
        got = hook_receiver.received
    assert (delivery.state, delivery.last_status_code) == ("delivered", 200)
    assert [(r.path, r.headers["Host"]) for r in got] == [("/hook", f"rebind.test:{port}")]
    assert answers == []


def test_a_bad_allow_list_stops_the_process_with_its_name(monkeypatch):
    monkeypatch.setenv("PLAYDECK_WEBHOOK_ALLOWED_NETWORKS", "10.0.0.0/8, not-a-network")
    with pytest.raises(ValueError, match="PLAYDECK_WEBHOOK_ALLOWED_NETWORKS"):
        load_settings()
