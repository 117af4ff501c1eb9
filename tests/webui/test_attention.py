"""The "needs attention" page and API, and the explanation of one active run, as a person sees them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import render_template_string
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import update

from playdeck import projects
from playdeck.db import session_scope
from playdeck.models import Run, RunEvent, utcnow
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from playdeck.settings import get_settings
from tests.cli.cli_support import wait_until
from tests.conftest import TERMINAL, as_user, queue_run, wait_for_state, web_client
from tests.webui.webui_testing import RunDriver

NO_WORKER = "no worker has taken it for 10 min 00 s: is a worker consuming queue 'deploy'?"


def set_times(run_id: int, **seconds_ago: float) -> None:
    """Age the run: each timestamp column set that many seconds before now."""
    now = utcnow()
    values = {column: now - dt.timedelta(seconds=seconds) for column, seconds in seconds_ago.items()}
    with session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(**values))


def stuck_and_fine_runs(client: FlaskClient, runs: RunDriver) -> dict[str, int]:
    """A run queued for 10 minutes, a run whose worker went silent, a fresh run, an ended run."""
    ended = runs.complete(client, events=1)
    set_times(ended, queued_at=7200, started_at=7200, heartbeat_at=7200)
    silent = runs.create(client, environment="production")
    runs.start(silent)
    set_times(silent, started_at=600, heartbeat_at=120)
    queued_long = runs.create(client)
    set_times(queued_long, queued_at=600)
    fresh = runs.create(client)
    return {"ended": ended, "silent": silent, "queued_long": queued_long, "fresh": fresh}


def test_api_lists_stuck_runs_with_why_and_nothing_else(any_client: FlaskClient, runs: RunDriver) -> None:
    ids = stuck_and_fine_runs(any_client, runs)

    response = any_client.get("/api/v1/attention")

    assert response.status_code == 200
    listed = [(item["run"]["id"], item["kind"], item["why"]) for item in response.json["runs"]]
    assert listed == [
        (
            ids["silent"],
            "heartbeat_stale",
            "no heartbeat from worker testhost for 2 min 00 s: the worker may be gone"
            " (a release manager can force-cancel it)",
        ),
        # The silent run still counts as running on the queue: its worker may only be slow.
        (ids["queued_long"], "workers_busy", "all workers of queue 'deploy' are busy (1 run running)"),
    ]
    first = response.json["runs"][0]
    assert first["run"]["project"] == "sampleapp" and first["run"]["state"] == "running"
    assert 599 < first["age_seconds"] < 660


def test_the_page_shows_each_stuck_run_and_why(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.create(client)
    set_times(run_id, queued_at=600)

    page = client.get("/attention")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f'<a href="/runs/{run_id}">#{run_id}</a>' in text
    assert str(escape(NO_WORKER)) in text
    assert 'class="badge state-queued"' in text and "10 min 00 s" in text
    assert "Nothing needs attention." not in text


def test_the_page_says_when_nothing_needs_attention(client: FlaskClient, runs: RunDriver) -> None:
    runs.create(client)  # fresh: a worker still has its chance
    runs.complete(client, events=1)

    page = client.get("/attention")

    assert page.status_code == 200
    assert "Nothing needs attention." in page.get_data(as_text=True)
    assert client.get("/api/v1/attention").json == {"runs": [], "awaiting_approval_total": 0}


def test_every_page_links_to_it(client: FlaskClient) -> None:
    assert '<a href="/attention">Needs attention</a>' in client.get("/runs").get_data(as_text=True)


def test_explanation_of_one_run_in_each_state(client: FlaskClient, runs: RunDriver) -> None:
    holder = runs.create(client)
    runs.start(holder)
    set_times(holder, heartbeat_at=3)
    waiting = runs.create(client)

    assert client.get(f"/api/v1/runs/{holder}/explanation").json == {
        "run_id": holder,
        "state": "running",
        "explanation": "running on worker testhost, last heartbeat 3 s ago",
    }
    assert client.get(f"/api/v1/runs/{waiting}/explanation").json["explanation"] == (
        f"waiting for run #{holder}, which holds the staging deploy lock"
    )
    runs.finish(holder)
    assert client.get(f"/api/v1/runs/{holder}/explanation").json == {
        "run_id": holder,
        "state": "successful",
        "explanation": None,
    }
    set_times(waiting, queued_at=4)
    assert client.get(f"/api/v1/runs/{waiting}/explanation").json["explanation"] == (
        "queued for 4 s, waiting for a worker on queue 'deploy'"
    )


def test_explanation_of_an_unknown_run_is_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/runs/999/explanation")
    assert response.status_code == 404
    assert response.json["error"] == "run 999 does not exist"


def test_the_run_page_line_says_why_while_active_and_nothing_once_ended(app, client, runs: RunDriver) -> None:
    """What run.html renders with ``{{ explanation_line(run_explanation(run)) }}``."""
    run_id = runs.create(client)
    set_times(run_id, queued_at=600)
    line = '{% from "_attention.html" import explanation_line %}{{ explanation_line(run_explanation(run)) }}'

    with app.test_request_context():
        active = render_template_string(line, run=client.get(f"/api/v1/runs/{run_id}").json)
        assert f'id="run-explanation">{escape(NO_WORKER)}</p>' in active and " hidden" not in active
        runs.start(run_id)
        runs.finish(run_id)
        ended = render_template_string(line, run=client.get(f"/api/v1/runs/{run_id}").json)
        assert 'id="run-explanation" hidden></p>' in ended  # kept for run.js, shown empty: nothing to explain


# --- "no output for N s" and the cancel buttons (issue 23) ----------------------------------------


def test_a_silent_running_run_is_listed_before_its_idle_timeout(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.create(client)
    runs.start(run_id)  # a fresh heartbeat: the worker is there, the playbook says nothing
    set_times(run_id, started_at=125)

    listed = {item["run"]["id"]: item for item in client.get("/api/v1/attention").json["runs"]}
    assert listed[run_id]["kind"] == "no_output"
    # The project's idle timeout is 600 s: said at 60 s, well before it stops the run.
    assert listed[run_id]["why"] == "no output for 2 min 05 s; its idle timeout stops it after 10 min 00 s"

    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    notice = re.search(r'<p class="warning" id="run-silence"[^>]*>', page).group(0)
    assert 'data-notice-after="60.0"' in notice and 'data-idle-timeout="600"' in notice and "hidden" not in notice
    assert "no output for 2 min 05 s" in page  # the explanation line says it too, before any script runs


def test_a_run_with_recent_output_is_not_silent(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.create(client)
    runs.start(run_id)
    set_times(run_id, started_at=125)
    runs.emit(run_id, [1])  # a line just now (its created stamp is now)
    with session_scope() as session:
        session.execute(update(RunEvent).where(RunEvent.run_id == run_id).values(created=utcnow()))
    assert run_id not in [item["run"]["id"] for item in client.get("/api/v1/attention").json["runs"]]
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert re.search(r'<p class="warning" id="run-silence"[^>]*hidden', page)


def test_the_buttons_follow_the_permissions(client: FlaskClient, runs: RunDriver) -> None:
    developer = as_user("dora", "developer", projects=("sampleapp",))
    own = runs.create(client, by="dora")
    others = runs.create(client, by="erin", environment="production")
    for run_id in (own, others):
        runs.start(run_id)
        set_times(run_id, started_at=300)

    def buttons(headers) -> dict[int, list[str]]:
        page = client.get("/attention", headers=headers).get_data(as_text=True)
        rows = re.findall(r'<tr class="run" data-run-id="(\d+)".*?</tr>', page, re.S)
        bodies = re.findall(r'<tr class="run" data-run-id="\d+".*?</tr>', page, re.S)
        labels = [re.findall(r"<button[^>]*>([^<]+)</button>", body) for body in bodies]
        return dict(zip(map(int, rows), labels, strict=True))

    assert buttons(developer) == {own: ["Cancel"], others: []}
    assert buttons(as_user("rita", "release_manager")) == {own: ["Cancel", "Force-cancel"],
                                                           others: ["Cancel", "Force-cancel"]}  # fmt: skip
    assert buttons(as_user("vic", "viewer")) == {own: [], others: []}

    # The server checks the same: a developer cannot cancel another's run or force-cancel at all.
    assert client.post(f"/runs/{others}/cancel", data={"return_to": "attention"}, headers=developer).status_code == 403
    assert client.post(f"/runs/{own}/force-cancel", headers=developer).status_code == 403
    response = client.post(f"/runs/{own}/cancel", data={"return_to": "attention", "confirm": "yes"}, headers=developer)
    assert response.status_code == 303 and response.headers["Location"].endswith("/attention")


def test_force_cancel_from_the_attention_page_ends_a_run_at_once(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.create(client)
    runs.start(run_id)
    set_times(run_id, started_at=600, heartbeat_at=300)
    response = client.post(
        f"/runs/{run_id}/force-cancel", data={"confirm": "yes"}, headers=as_user("rita", "release_manager")
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/attention")
    with session_scope() as session:
        assert (get_run(session, run_id).state, get_run(session, run_id).canceled_by) == ("canceled", "rita")
    again = client.post(
        f"/runs/{run_id}/force-cancel", data={"confirm": "yes"}, headers=as_user("rita", "release_manager")
    )
    assert again.status_code == 409 and b"already ended" in again.data


def test_the_cancel_button_on_attention_stops_a_real_silent_run(
    test_playbooks, start_worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real playbook that sleeps without a word, a real worker: /attention says so, and its Cancel
    button (the form as the page has it) ends the run canceled."""
    monkeypatch.setenv("PLAYDECK_SILENCE_NOTICE_SECONDS", "2")
    get_settings.cache_clear()
    with session_scope() as session:
        projects.add_project(session, "sleepy", "sleep_long.yml", {"dev": "local3.ini"})
    client = web_client()
    start_worker()
    run_id = queue_run(RunRequest(project="sleepy", environment="dev", extra_vars={"sleep_seconds": 619})).id
    assert wait_for_state(run_id, {"running"}, timeout=60) == "running"

    def silent_row() -> str | None:
        page = client.get("/attention").get_data(as_text=True)
        found = re.search(rf'<tr class="run" data-run-id="{run_id}" data-kind="no_output">.*?</tr>', page, re.S)
        return found.group(0) if found else None

    # The row as it was found: a second look could miss it (a late line of output resets the silence).
    row = wait_until(silent_row, 60, "the run listed with no output")
    assert "no output for" in row
    action = re.search(r'<form method="post" action="([^"]+)"', row).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', row))
    assert "data-confirm=" in row  # the button asks first (confirm.js), then sends confirm=yes
    response = client.post(action, data={**fields, "confirm": "yes"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/attention")

    assert wait_for_state(run_id, TERMINAL, timeout=60) == "canceled"
    assert f'data-run-id="{run_id}"' not in client.get("/attention").get_data(as_text=True)
