"""Webhooks end to end: a real worker runs real playbooks, the sender thread the reaper runs posts the
notifications to a real local HTTP receiver — started then succeeded for a good deploy, failed (in Slack's
format) for a broken one, canceled for a run stopped while it ran."""

from __future__ import annotations

import pytest

from playdeck import db, duties, projects, webhook_delivery, webhooks
from playdeck.runs.requests import RunRequest
from playdeck.settings import get_settings
from tests.conftest import TERMINAL, cancel_run, queue_run, wait_for_state
from tests.webhook_receiver import allow_loopback, receiver


@pytest.fixture(autouse=True)
def _loopback_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    allow_loopback(monkeypatch)


def add_hook(project: str, url: str, **fields) -> None:
    with db.session_scope() as session:
        webhooks.create_webhook(session, project, url, who="tests", **fields)


def submit(project: str, **extra) -> int:
    return queue_run(RunRequest(project=project, environment="dev", version="2.0.1", **extra)).id


def test_deploys_notify_their_start_and_their_end(test_projects, start_worker, tmp_path):
    start_worker()
    stop_sending = duties.start(get_settings(), [webhook_delivery.SENDING])
    try:
        with receiver() as good, receiver() as slack:
            add_hook("marker", good.url)
            add_hook("partial", slack.url, format="slack", events=["failed"])
            ok = submit("marker", extra_vars={"marker_file": str(tmp_path / "marker.txt")})
            assert wait_for_state(ok, TERMINAL) == "successful"
            broken = submit("partial")
            assert wait_for_state(broken, TERMINAL) == "failed"
            started, succeeded = (r.json for r in good.wait_for(2))
            (failed,) = slack.wait_for(1)
    finally:
        stop_sending.set()

    assert (started["event"], started["run"]["id"], started["run"]["state"]) == ("run.started", ok, "running")
    run = succeeded["run"]
    assert (succeeded["event"], run["id"], run["state"], run["project"], run["environment"], run["version"]) == (
        "run.succeeded", ok, "successful", "marker", "dev", "2.0.1"
    )  # fmt: skip
    assert run["duration_seconds"] > 0 and run["finished_at"]
    text = failed.json["text"]
    assert f"run {broken}" in text and "marker" not in text and "partial/dev" in text and "failed" in text
    # The run's reason names the failed host and task.
    assert "host2" in text


def test_a_run_canceled_while_it_runs_notifies_its_cancel(test_projects, start_worker):
    with db.session_scope() as session:
        projects.add_project(session, "sleepy", "sleep_long.yml", {"dev": "local3.ini"})
    start_worker()
    stop_sending = duties.start(get_settings(), [webhook_delivery.SENDING])
    try:
        with receiver() as hook_receiver:
            add_hook("sleepy", hook_receiver.url, events=["canceled"])
            run_id = submit("sleepy")
            wait_for_state(run_id, {"running"})
            cancel_run(run_id, "bob")
            assert wait_for_state(run_id, TERMINAL) == "canceled"
            (got,) = hook_receiver.wait_for(1)
    finally:
        stop_sending.set()
    assert (got.json["event"], got.json["run"]["id"], got.json["run"]["state"]) == ("run.canceled", run_id, "canceled")
