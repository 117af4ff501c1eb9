"""Routed notifications: destinations subscribed per project, environment and event, the failure-only and
quiet-hours switches, "fixed" after a failure, and delivery through the webhook outbox to a real HTTP
receiver (Slack, Teams, JSON) and a real SMTP server with STARTTLS (aiosmtpd, a throwaway certificate)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography.fernet import Fernet

from playdeck import db, projects, webhooks
from playdeck.models import Run
from playdeck.notifications import destinations, routing, subscriptions
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run
from tests.conftest import configure, free_port
from tests.core.test_webhooks import deliver_until_settled, deliveries
from tests.smtp_receiver import smtp_server
from tests.webhook_receiver import LOOPBACK, receiver

BASE_URL = "https://deploy.example.test"


@pytest.fixture
def smtp(tmp_path):
    with smtp_server(tmp_path) as server:
        yield server


def setup(monkeypatch, tmp_path, smtp_port: int, cert: str = "", **extra: str) -> None:
    configure(
        monkeypatch,
        data_dir=str(tmp_path / "data"),
        webhook_retry_seconds="0.05",
        webhook_max_attempts="3",
        webhook_allowed_networks=LOOPBACK,
        smtp_host="127.0.0.1",
        smtp_port=str(smtp_port),
        smtp_ca_file=cert,
        smtp_from="playdeck@example.test",
        smtp_timeout_seconds="5",
        base_url=BASE_URL,
        # JSON destinations sign their deliveries with a secret kept under this key.
        secret_key=Fernet.generate_key().decode(),
        **extra,
    )
    with db.session_scope() as session:
        projects.add_project(session, "other", "sampleapp/deploy.yml", {"staging": "sampleapp/staging.ini"})


@pytest.fixture(params=["sqlite", "mariadb"])
def configured(monkeypatch, tmp_path, smtp, request):
    """Each test twice: on SQLite and on MariaDB."""
    database = {"database_url": request.getfixturevalue("mariadb_url")} if request.param == "mariadb" else {}
    setup(monkeypatch, tmp_path, smtp.port, str(smtp.cert), **database)
    return smtp


def destination(name: str, kind: str, **target) -> None:
    with db.session_scope() as session:
        destinations.create(session, name, kind, who="tests", **target)


def subscribe(name: str, **values) -> None:
    with db.session_scope() as session:
        subscriptions.create(session, name, values, who="tests")


def submit(project: str = "sampleapp", environment: str = "staging", check: bool = False) -> int:
    request = RunRequest(project=project, environment=environment, version="1.2.3", requested_by="alice")
    request.check = check
    with db.session_scope() as session:
        return request_run(session, request).id


def run_to(state: RunState, **submitted) -> int:
    run_id = submit(**submitted)
    with db.session_scope() as session:
        assert claim_run(session, run_id, "testhost", 123)
    with db.session_scope() as session:
        assert finish_run(session, run_id, state, rc=0, reason="host web1 failed at task restart")
    return run_id


def event(run_id: int, name: str) -> int:
    with db.session_scope() as session:
        return webhooks.enqueue_event(session, run_id, name)


def told(name: str) -> list[tuple[int | None, str]]:
    """(run, event) of every delivery to destination ``name``."""
    with db.session_scope() as session:
        destination_id = destinations.get(session, name).id
    return [(d.run_id, d.event) for d in deliveries() if d.destination_id == destination_id]


# --- e-mail over a real SMTP server -------------------------------------------------------------------


def test_an_approval_request_is_mailed_over_starttls_with_a_link_that_opens_the_run(configured):
    destination("approvers", "email", recipients=["rm@example.test", "lead@example.test"])
    subscribe("approvers", project="sampleapp", environment="production", events=["approval_requested"])
    run_id = submit(environment="production")
    assert event(run_id, "approval_requested") == 1
    (delivery,) = deliver_until_settled()
    (mail,) = configured.wait_for(1)

    assert (delivery.event, delivery.state, delivery.attempts, delivery.last_error) == (
        "approval_requested", "delivered", 1, ""
    )  # fmt: skip
    assert mail.over_tls
    assert mail.mail_from == "playdeck@example.test"
    assert sorted(mail.recipients) == ["lead@example.test", "rm@example.test"]
    assert mail.message["Subject"] == f"[Playdeck] sampleapp/production: run {run_id} waits for approval"
    lines = mail.message.get_content().splitlines()
    assert f"Approve or reject it: {BASE_URL}/runs/{run_id}" in lines
    assert "Requested by: alice" in lines


def test_a_failed_deploy_is_mailed_with_its_reason(configured):
    destination("oncall", "email", recipients="oncall@example.test")
    subscribe("oncall", events=["failed"])
    run_id = run_to(RunState.FAILED)
    deliver_until_settled()
    (mail,) = configured.wait_for(1)
    assert mail.message["Subject"] == f"[Playdeck] sampleapp/staging: run {run_id} failed"
    body = mail.message.get_content()
    assert "host web1 failed at task restart" in body and f"{BASE_URL}/runs/{run_id}" in body


def test_a_refused_recipient_fails_the_delivery_at_once(configured):
    configured.refuse.add("gone@example.test")
    destination("stale", "email", recipients=["gone@example.test"])
    subscribe("stale", events=["failed"])
    run_to(RunState.FAILED)
    (delivery,) = deliver_until_settled()
    assert (delivery.state, delivery.attempts) == ("failed", 1)
    assert "550" in delivery.last_error and "gone@example.test" in delivery.last_error


def test_an_smtp_server_that_is_down_gives_a_failed_delivery_after_retries_and_the_run_is_unaffected(
    monkeypatch, tmp_path
):
    setup(monkeypatch, tmp_path, free_port())  # nothing listens there
    destination("mail", "email", recipients=["ops@example.test"])
    subscribe("mail", events=["started", "failed"])
    run_id = run_to(RunState.FAILED)
    settled = deliver_until_settled()

    assert [(d.event, d.state, d.attempts) for d in settled] == [("started", "failed", 3), ("failed", "failed", 3)]
    assert all("ConnectionRefusedError talking to 127.0.0.1" in e["error"] for e in settled[1].attempt_log)
    assert "gave up after 3 attempts" in settled[1].last_error
    with db.session_scope() as session:
        assert session.get(Run, run_id).state == "failed"


# --- HTTP kinds, to a real receiver ----------------------------------------------------------------


def test_slack_teams_and_json_destinations_get_their_own_payloads(configured):
    with receiver() as slack, receiver() as teams, receiver() as plain:
        destination("chat", "slack", url=slack.url)
        destination("channel", "teams", url=teams.url)
        destination("bus", "json", url=plain.url)
        for name in ("chat", "channel", "bus"):
            subscribe(name, project="sampleapp", events=["failed"])
        run_id = run_to(RunState.FAILED)
        settled = deliver_until_settled()
        (slack_got,), (teams_got,), (plain_got,) = slack.wait_for(1), teams.wait_for(1), plain.wait_for(1)

    assert [d.state for d in settled] == ["delivered"] * 3
    text = slack_got.json["text"]
    assert f"<{BASE_URL}/runs/{run_id}|run {run_id}>" in text and "sampleapp/staging" in text and "failed" in text
    card = teams_got.json["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["body"][0]["text"] == f"sampleapp/staging: run {run_id} failed"
    assert card["content"]["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open the run", "url": f"{BASE_URL}/runs/{run_id}"}
    ]
    assert plain_got.json["event"] == "run.failed" and plain_got.json["run"]["id"] == run_id
    assert plain_got.headers["X-Playdeck-Event"] == "run.failed"


# --- routing ----------------------------------------------------------------------------------------


def test_events_are_routed_by_project_environment_and_event(configured):
    for name in ("sample-prod", "staging-everywhere", "everything", "paused"):
        destination(name, "json", url="http://127.0.0.1:9/unused")
    subscribe("sample-prod", project="sampleapp", environment="production", events=["succeeded", "failed"])
    subscribe("staging-everywhere", environment="staging", events=["failed"])
    subscribe("everything")
    subscribe("paused")
    with db.session_scope() as session:
        destinations.update(session, "paused", {"active": False}, who="tests")

    prod_ok = run_to(RunState.SUCCESSFUL, environment="production")
    other_failed = run_to(RunState.FAILED, project="other")
    sample_canceled = run_to(RunState.CANCELED)

    assert told("sample-prod") == [(prod_ok, "succeeded")]
    assert told("staging-everywhere") == [(other_failed, "failed")]
    assert told("everything") == [
        (prod_ok, "started"), (prod_ok, "succeeded"), (other_failed, "started"), (other_failed, "failed"),
        (sample_canceled, "started"), (sample_canceled, "canceled"),
    ]  # fmt: skip
    assert told("paused") == []


def test_one_destination_hears_an_event_once_whatever_number_of_subscriptions_match(configured):
    destination("ops", "json", url="http://127.0.0.1:9/unused")
    subscribe("ops", project="sampleapp", events=["failed"])
    subscribe("ops", environment="staging", events=["failed", "lost"])
    run_id = run_to(RunState.FAILED)
    assert told("ops") == [(run_id, "failed")]


def test_failure_only_hears_failures_whatever_else_it_lists(configured):
    destination("pager", "json", url="http://127.0.0.1:9/unused")
    subscribe("pager", failure_only=True)
    ok = run_to(RunState.SUCCESSFUL)
    timed_out = run_to(RunState.TIMEOUT)
    broken = run_to(RunState.ERROR)
    event(ok, "approval_requested")
    assert told("pager") == [(timed_out, "timeout"), (broken, "failed")]


def test_a_success_after_a_failure_is_fixed_and_the_next_one_is_not(configured):
    destination("fixes", "json", url="http://127.0.0.1:9/unused")
    destination("successes", "json", url="http://127.0.0.1:9/unused")
    subscribe("fixes", events=["succeeded", "fixed"])
    subscribe("successes", events=["succeeded"])
    first = run_to(RunState.SUCCESSFUL)
    run_to(RunState.FAILED)
    run_to(RunState.SUCCESSFUL, check=True)  # a dry run fixes nothing, and is no deploy to look back to
    fixing = run_to(RunState.SUCCESSFUL)
    after = run_to(RunState.SUCCESSFUL)
    run_to(RunState.TIMEOUT, project="other")  # another environment's failure
    other_env = run_to(RunState.SUCCESSFUL, environment="production")

    assert [e for e in told("fixes") if e[0] in (first, fixing, after, other_env)] == [
        (first, "succeeded"), (fixing, "fixed"), (after, "succeeded"), (other_env, "succeeded")
    ]  # fmt: skip
    assert (fixing, "succeeded") in told("successes")


def test_quiet_hours_hold_back_all_but_failures_until_the_window_ends(configured):
    destination("night", "json", url="http://127.0.0.1:9/unused")
    subscribe("night", events=["succeeded", "failed"], quiet_start="22:00", quiet_end="07:00",
              quiet_zone="Europe/Berlin")  # fmt: skip
    ok, failed = submit(), submit()
    # 23:30 in Berlin (CET, UTC+1) on a winter night: quiet until 07:00 Berlin, 06:00 UTC.
    night = dt.datetime(2027, 1, 15, 22, 30)
    with db.session_scope() as session:
        assert routing.route(session, ok, "succeeded", now=night) == 1
        assert routing.route(session, failed, "failed", now=night) == 1
        # Noon: outside the window, at once.
        assert routing.route(session, ok, "succeeded", now=dt.datetime(2027, 1, 15, 11, 0)) == 1
    due = [(d.run_id, d.event, d.next_attempt_at) for d in deliveries()]
    assert due == [
        (ok, "succeeded", dt.datetime(2027, 1, 16, 6, 0)),
        (failed, "failed", night),
        (ok, "succeeded", dt.datetime(2027, 1, 15, 11, 0)),
    ]


def test_events_of_release_control_reach_their_subscribers(configured):
    destination("release", "json", url="http://127.0.0.1:9/unused")
    subscribe("release", events=["approval_requested", "approved", "rejected", "expired", "freeze_overridden"])
    run_id = submit(environment="production")
    for name in ("approval_requested", "approved", "freeze_overridden", "running_long"):
        event(run_id, name)
    assert told("release") == [(run_id, "approval_requested"), (run_id, "approved"), (run_id, "freeze_overridden")]
    payload = json.loads(deliveries()[0].payload)
    assert payload["event"] == "run.approval_requested" and payload["run"]["url"] == f"{BASE_URL}/runs/{run_id}"
