"""POST/GET /api/v1/runs: creating runs through the real broker, refusing bad input, listing."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from playdeck.runs import taskqueue
from playdeck.runs.states import RunState
from playdeck.settings import Settings, get_settings
from tests.conftest import as_user, free_extra_vars, free_port, web_client
from tests.webui.webui_testing import RUN, RunDriver, broker_messages, run_count

EXECUTE_RUN = "playdeck.execute_run"


def test_projects_are_listed(client: FlaskClient) -> None:
    projects = client.get("/api/v1/projects").json["projects"]
    assert [p["name"] for p in projects] == ["sampleapp"]
    assert [e["name"] for e in projects[0]["environments"]] == ["production", "staging"]


def test_post_records_a_queued_run_and_sends_it_to_the_broker(any_client: FlaskClient, services: Settings) -> None:
    free_extra_vars()
    body = {**RUN, "extra_vars": {"greeting": "hi"}, "limit": "web1,web2", "tags": ["app"], "check": True}
    response = any_client.post("/api/v1/runs", json=body)

    assert response.status_code == 201
    run = response.json
    assert run["state"] == "queued"
    assert (run["project"], run["environment"], run["version"]) == ("sampleapp", "staging", "1.2.3")
    assert (run["extra_vars"], run["limit"], run["tags"], run["check"]) == (
        {"greeting": "hi"},
        "web1,web2",
        ["app"],
        True,
    )
    assert run["requested_by"] == "admin"  # the caller's login
    assert response.headers["Location"] == f"/api/v1/runs/{run['id']}"
    assert broker_messages(services) == [(EXECUTE_RUN, [run["id"]])]
    assert any_client.get(response.headers["Location"]).json["id"] == run["id"]


def test_the_requester_is_the_user_of_the_token(client: FlaskClient) -> None:
    response = client.post("/api/v1/runs", json=RUN, headers=as_user("ci-bot"))
    assert response.json["requested_by"] == "ci-bot"


@pytest.mark.parametrize(
    "changes, status, fragment",
    [
        ({"project": "nope"}, 404, "project 'nope' does not exist"),
        ({"environment": "qa"}, 404, "no environment 'qa'"),
        ({"project": 5}, 400, "project"),
        ({"version": "1.0; rm -rf /"}, 400, "version"),
        ({"extra_vars": "x"}, 400, "extra_vars"),
        ({"extra_vars": ["a"]}, 400, "extra_vars"),
        ({"extra_vars": {"not a name": 1}}, 400, "not a valid Ansible variable name"),
        ({"extra_vars": {"playdeck_secret": 1}}, 400, "reserved"),
        ({"limit": "web1;reboot"}, 400, "limit"),
        ({"limit": "$(reboot)"}, 400, "limit"),
        ({"limit": None}, 400, "limit"),
        ({"tags": "a,b"}, 400, "tags"),
        ({"tags": ["app", "x;y"]}, 400, "'x;y' is not a valid tag"),
        ({"tags": ["`id`"]}, 400, "tags"),
        ({"tags": [1]}, 400, "tags"),
        ({"check": "yes"}, 400, "check"),
        ({"requested_by": "alice"}, 400, "requested_by"),
        ({"playbook": "../../etc/passwd"}, 400, "unknown field(s) playbook"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_creates_nothing(
    client: FlaskClient, embedded: Settings, changes: dict[str, Any], status: int, fragment: str
) -> None:
    response = client.post("/api/v1/runs", json={**RUN, **changes})
    assert response.status_code == status
    assert fragment in response.json["error"]
    assert run_count() == 0
    assert broker_messages(embedded) == []


@pytest.mark.parametrize(
    "data, content_type, status, fragment",
    [
        ("{not json", "application/json", 400, "not valid JSON"),
        ("[1, 2]", "application/json", 400, "must be a JSON object"),
        ("null", "application/json", 400, "must be a JSON object"),
        ("[" * 100_000, "application/json", 400, "not valid JSON"),
        (b"\xff\xfe", "application/json", 400, "not valid JSON"),
        ('{"project": "sampleapp", "environment": "staging"}', "text/plain", 415, "application/json"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(
    client: FlaskClient, data: str | bytes, content_type: str, status: int, fragment: str
) -> None:
    response = client.post("/api/v1/runs", data=data, content_type=content_type)
    assert response.status_code == status
    assert fragment in response.json["error"]
    assert run_count() == 0


def test_a_body_over_the_size_limit_is_a_json_413(client: FlaskClient, embedded: Settings) -> None:
    big = "x" * (embedded.max_request_bytes + 1)
    response = client.post("/api/v1/runs", json={**RUN, "extra_vars": {"blob": big}})
    assert response.status_code == 413
    assert response.json["error"]
    assert run_count() == 0


def test_a_refusing_broker_is_a_503_and_the_run_stays_queued(
    monkeypatch: pytest.MonkeyPatch, embedded: Settings
) -> None:
    monkeypatch.setenv("PLAYDECK_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")
    get_settings.cache_clear()
    taskqueue.producer.cache_clear()
    client = web_client()

    response = client.post("/api/v1/runs", json=RUN)

    assert response.status_code == 503
    assert "broker did not take it" in response.json["error"]
    [run] = client.get("/api/v1/runs").json["runs"]
    assert run["state"] == "queued"


def test_unknown_run_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/runs/999")
    assert response.status_code == 404
    assert response.json == {"error": "run 999 does not exist", "field": None}


def _ids(client: FlaskClient, query: str) -> list[int]:
    response = client.get(f"/api/v1/runs?{query}")
    assert response.status_code == 200, response.json
    return [run["id"] for run in response.json["runs"]]


def test_runs_are_filtered(client: FlaskClient, runs: RunDriver) -> None:
    staging_done = runs.complete(client, events=1)
    staging_queued = runs.create(client, by="bob")
    production_queued = runs.create(client, environment="production")

    assert _ids(client, "") == [production_queued, staging_queued, staging_done]
    assert _ids(client, "environment=staging") == [staging_queued, staging_done]
    assert _ids(client, "project=sampleapp&environment=production") == [production_queued]
    assert _ids(client, "state=successful") == [staging_done]
    assert _ids(client, "state=queued,successful&requested_by=bob") == [staging_queued]
    assert _ids(client, "since=2000-01-01&until=2999-01-01") == [
        production_queued,
        staging_queued,
        staging_done,
    ]
    assert _ids(client, "since=2999-01-01") == []
    assert _ids(client, "project=other") == []


def test_runs_are_paginated_newest_first(client: FlaskClient, runs: RunDriver) -> None:
    created = [runs.create(client) for _ in range(5)]
    pages = [client.get(f"/api/v1/runs?per_page=2&page={n}").json for n in (1, 2, 3)]
    assert [page["has_next"] for page in pages] == [True, True, False]
    assert [page["page"] for page in pages] == [1, 2, 3]
    assert all(page["per_page"] == 2 for page in pages)
    assert [run["id"] for page in pages for run in page["runs"]] == created[::-1]


@pytest.mark.parametrize(
    "query, field",
    [
        ("per_page=201", "per_page"),
        ("per_page=0", "per_page"),
        ("page=0", "page"),
        ("page=two", "page"),
        ("state=sleeping", "state"),
        ("since=yesterday", "since"),
        ("until=2024-13-01", "until"),
        # Out of range once moved to UTC, or for the database.
        ("since=0001-01-01T00:00:00%2B14:00", "since"),
        ("until=9999-12-31T23:59:59-14:00", "until"),
        ("since=0001-01-01", "since"),
        ("until=0999-12-31T23:59:59", "until"),
    ],
)
def test_bad_list_parameters_are_a_400(client: FlaskClient, query: str, field: str) -> None:
    response = client.get(f"/api/v1/runs?{query}")
    assert response.status_code == 400
    assert response.json["field"] == field
    assert response.json["error"].startswith(f"{field}:")


def test_run_json_reports_progress(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.complete(client, events=3)
    run = client.get(f"/api/v1/runs/{run_id}").json
    assert run["state"] == RunState.SUCCESSFUL
    assert run["terminal"] is True
    assert (run["rc"], run["worker_host"], run["event_count"]) == (0, "testhost", 3)
    assert [s["host"] for s in run["host_summaries"]] == ["web1", "web2"]
