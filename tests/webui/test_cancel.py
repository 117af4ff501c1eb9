"""Cancel through the API and the run page: queued runs end at once, running ones are flagged for the
worker, ended ones are a clear 409."""

from __future__ import annotations

from playdeck.db import session_scope
from playdeck.runs.queries import get_run
from tests.conftest import as_user

# The page's confirmation (webui/confirmation.py), as the dialog sends it.
CONFIRM = {"confirm": "yes"}


def test_api_cancel_of_a_queued_run_ends_it_at_once(client, runs):
    run_id = runs.create(client)
    response = client.post(f"/api/v1/runs/{run_id}/cancel", headers=as_user("alice"))
    assert response.status_code == 202
    assert (response.json["state"], response.json["canceled_by"]) == ("canceled", "alice")
    assert response.json["terminal"] and response.json["cancel_requested_at"]


def test_api_cancel_of_a_running_run_is_handed_to_its_worker(client, runs):
    run_id = runs.create(client)
    runs.start(run_id)
    response = client.post(f"/api/v1/runs/{run_id}/cancel")
    assert response.status_code == 202
    # Still running: the worker stops the processes and records "canceled" itself.
    assert (response.json["state"], response.json["canceled_by"]) == ("running", "admin")
    with session_scope() as session:
        assert get_run(session, run_id).cancel_requested_at is not None


def test_api_cancel_of_an_ended_run_is_409_and_changes_nothing(client, runs):
    run_id = runs.create(client)
    runs.start(run_id)
    runs.finish(run_id)
    response = client.post(f"/api/v1/runs/{run_id}/cancel")
    assert response.status_code == 409
    assert response.json["error"] == f"run {run_id} already ended: it is successful"
    with session_scope() as session:
        assert get_run(session, run_id).canceled_by is None


def test_api_cancel_of_an_unknown_run_is_404(client):
    response = client.post("/api/v1/runs/999999/cancel")
    assert response.status_code == 404 and "does not exist" in response.json["error"]


def test_run_page_cancel_button(client, runs):
    run_id = runs.create(client)
    page = client.get(f"/runs/{run_id}")
    assert b"Cancel run" in page.data
    response = client.post(f"/runs/{run_id}/cancel", data=CONFIRM, headers=as_user("bob"))
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/runs/{run_id}")
    page = client.get(f"/runs/{run_id}")
    assert b"Cancel run" not in page.data and b"canceled by bob before it started" in page.data


def test_run_page_cancel_of_an_ended_run_says_so(client, runs):
    run_id = runs.create(client)
    client.post(f"/runs/{run_id}/cancel", data=CONFIRM)
    response = client.post(f"/runs/{run_id}/cancel", data=CONFIRM)
    assert response.status_code == 409 and b"already ended: it is canceled" in response.data


def test_run_page_cancel_from_another_site_is_refused(client, runs):
    run_id = runs.create(client)
    response = client.post(f"/runs/{run_id}/cancel", data=CONFIRM, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    with session_scope() as session:
        assert get_run(session, run_id).state == "queued"
