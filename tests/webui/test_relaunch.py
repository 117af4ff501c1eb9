"""Relaunch through the API and the run page: a new run linked to a finished one, 409 while it is active
or when no host failed, 404 for an unknown run, 400 for a bad body."""

from __future__ import annotations

import pytest

from playdeck import projects
from playdeck.db import session_scope
from playdeck.runs.states import RunState
from playdeck.runs.taskqueue import EXECUTE_RUN_TASK
from playdeck.runs.transitions import finish_run, record_host_summaries
from tests.conftest import as_user, free_extra_vars, mark_lost
from tests.webui.webui_testing import RUN, RunDriver, broker_messages, run_count


def finished(client, runs: RunDriver, **fields) -> int:
    """A run that ended failed on web2 (RunDriver's recap: web1 ok, web2 one failure)."""
    run_id = runs.create(client, **fields)
    runs.start(run_id)
    runs.finish(run_id)
    return run_id


def succeeded_everywhere(client, runs: RunDriver) -> int:
    run_id = runs.create(client)
    runs.start(run_id)
    with session_scope() as session:
        record_host_summaries(session, run_id, {"ok": {"web1": 2, "web2": 2}})
        assert finish_run(session, run_id, RunState.SUCCESSFUL, rc=0)
    return run_id


def test_api_relaunch_queues_a_linked_copy_and_dispatches_it(client, runs, embedded):
    free_extra_vars()
    original = finished(client, runs, limit="web*", tags=["app"], extra_vars={"n": 1})

    response = client.post(f"/api/v1/runs/{original}/relaunch", headers=as_user("alice"))

    assert response.status_code == 201
    new = response.json
    assert response.headers["Location"].endswith(f"/api/v1/runs/{new['id']}")
    assert new["id"] != original and new["state"] == "queued"
    assert (new["relaunch_of"], new["requested_by"]) == (original, "alice")
    assert (new["version"], new["limit"], new["tags"], new["extra_vars"]) == (RUN["version"], "web*", ["app"], {"n": 1})
    # Committed, then dispatched: the worker's message is waiting in the real broker.
    assert (EXECUTE_RUN_TASK, [new["id"]]) in broker_messages(embedded)
    assert client.get(f"/api/v1/runs/{original}").json["relaunch_of"] is None


def test_api_relaunch_on_failed_hosts_limits_to_them(client, runs):
    original = finished(client, runs, limit="web*")

    response = client.post(f"/api/v1/runs/{original}/relaunch", json={"hosts": "failed"})

    assert response.status_code == 201
    assert (response.json["limit"], response.json["relaunch_of"], response.json["requested_by"]) == (
        "web2",
        original,
        "admin",
    )


def test_api_relaunch_of_an_active_run_is_409(client, runs):
    run_id = runs.create(client)
    response = client.post(f"/api/v1/runs/{run_id}/relaunch", json={})
    assert response.status_code == 409
    assert response.json["error"] == f"run {run_id} is still queued"
    runs.start(run_id)
    response = client.post(f"/api/v1/runs/{run_id}/relaunch")
    assert response.status_code == 409 and response.json["error"] == f"run {run_id} is still running"
    assert run_count() == 1


def test_api_relaunch_on_failed_hosts_when_none_failed_is_409(client, runs):
    run_id = succeeded_everywhere(client, runs)
    response = client.post(f"/api/v1/runs/{run_id}/relaunch", json={"hosts": "failed"})
    assert response.status_code == 409
    assert response.json["error"] == f"run {run_id} has no failed or unreachable hosts"
    assert run_count() == 1


def test_api_relaunch_of_an_unknown_run_is_404(client):
    response = client.post("/api/v1/runs/999999/relaunch")
    assert response.status_code == 404 and response.json["error"] == "run 999999 does not exist"


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"json": {"hosts": "some"}}, 400, "hosts: must be one of all, failed, got 'some'"),
        ({"json": {"hosts": ["web2"]}}, 400, "hosts: must be one of all, failed"),
        ({"json": {"hosts": "all", "limit": "web1"}}, 400, "body: unknown field(s) limit; allowed: hosts"),
        ({"json": ["failed"]}, 400, "body: must be a JSON object, got list"),
        ({"data": "{not json", "content_type": "application/json"}, 400, "body: is not valid JSON"),
        # What an HTML form on another site can send.
        ({"data": {"hosts": "all"}}, 415, "Content-Type: application/json"),
        ({"data": "hosts=all", "content_type": "text/plain"}, 415, "Content-Type: application/json"),
        ({"headers": {"Origin": "https://evil.example"}}, 403, "Playdeck's own pages"),
    ],
)
def test_api_relaunch_refuses_a_bad_request(client, runs, kwargs, status, message):
    run_id = finished(client, runs)
    response = client.post(f"/api/v1/runs/{run_id}/relaunch", **kwargs)
    assert response.status_code == status
    assert message in response.json["error"]
    assert run_count() == 1


def test_run_page_buttons_follow_the_run(client, runs):
    run_id = runs.create(client)
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    # Active: the forms are there for run.js to show when it ends, but hidden.
    assert '<div class="actions" id="relaunch" hidden>' in page

    runs.start(run_id)
    runs.finish(run_id)
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert '<div class="actions" id="relaunch">' in page
    assert f'action="/runs/{run_id}/relaunch"' in page
    assert ">Relaunch</button>" in page and ">Relaunch on failed hosts</button>" in page
    assert 'id="relaunch-failed-form">' in page  # shown: web2 failed
    assert "Relaunch of" not in page


def test_run_page_hides_relaunch_on_failed_hosts_when_none_failed(client, runs):
    run_id = succeeded_everywhere(client, runs)
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert '<div class="actions" id="relaunch">' in page
    assert 'id="relaunch-failed-form" hidden>' in page


def test_run_page_relaunch_on_failed_hosts_opens_the_new_run(client, runs):
    original = finished(client, runs)

    response = client.post(f"/runs/{original}/relaunch", data={"hosts": "failed", "confirm": "yes"})

    assert response.status_code == 303
    new_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert response.headers["Location"].endswith(f"/runs/{new_id}") and new_id != original
    new = client.get(f"/api/v1/runs/{new_id}").json
    assert (new["relaunch_of"], new["limit"], new["requested_by"]) == (original, "web2", "admin")
    page = client.get(f"/runs/{new_id}").get_data(as_text=True)
    assert f'Relaunch of <a href="/runs/{original}">run #{original}</a>' in page


def test_run_page_relaunch_of_all_hosts(client, runs):
    original = finished(client, runs, limit="web1:web2")
    response = client.post(f"/runs/{original}/relaunch", data={"hosts": "all", "confirm": "yes"})
    assert response.status_code == 303
    new = client.get(f"/api/v1/runs/{response.headers['Location'].rsplit('/', 1)[1]}").json
    assert (new["relaunch_of"], new["limit"]) == (original, "web1:web2")


def test_run_page_relaunch_of_an_active_run_says_so(client, runs):
    run_id = runs.create(client)
    response = client.post(f"/runs/{run_id}/relaunch", data={"hosts": "all", "confirm": "yes"})
    assert response.status_code == 409
    assert f"run {run_id} is still queued" in response.get_data(as_text=True)
    assert run_count() == 1


def test_run_page_relaunch_from_another_site_is_refused(client, runs):
    run_id = finished(client, runs)
    response = client.post(
        f"/runs/{run_id}/relaunch", data={"hosts": "all", "confirm": "yes"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert run_count() == 1


def test_run_page_of_an_automatic_retry_links_the_lost_run(client, runs):
    run_id = runs.create(client)
    runs.start(run_id)
    with session_scope() as session:
        projects.set_options(session, client.get(f"/api/v1/runs/{run_id}").json["project"], retry_lost_runs=2)
    retry_id = mark_lost(run_id, "its worker process 1 on h is gone").retry[0]

    page = client.get(f"/runs/{retry_id}").get_data(as_text=True)
    assert f'Automatic retry 1 of lost\n        <a href="/runs/{run_id}">run #{run_id}</a>' in page
    assert client.get(f"/api/v1/runs/{retry_id}").json["retry_number"] == 1
    assert f"retried automatically as run {retry_id} (retry 1 of 2)" in client.get(f"/runs/{run_id}").get_data(
        as_text=True
    )
