"""``/api/v1/pipelines`` and ``/api/v1/pipeline-runs`` on the embedded install: create, read, start, cancel,
resume, decide; bad definitions 400 naming the field; who may do what, asked with real tokens."""

from __future__ import annotations

import pytest

from playdeck.pipelines import engine
from playdeck.runs.states import RunState
from playdeck.settings import get_settings
from tests.conftest import as_user, web_client
from tests.pipelines.helpers import RELEASE_STEPS, end_run
from tests.webui.test_metrics import scrape

PIPELINE = {"project": "sampleapp", "name": "release", "steps": RELEASE_STEPS}


@pytest.fixture
def client(embedded):
    return web_client()


def test_create_start_fail_resume_and_cancel(client):
    created = client.post("/api/v1/pipelines", json=PIPELINE)
    assert created.status_code == 201, created.json
    pipeline_id = created.json["id"]
    assert [step["on_success"] for step in created.json["steps"]] == ["smoke", "production", None]
    assert client.get("/api/v1/pipelines?project=sampleapp").json["pipelines"][0]["id"] == pipeline_id

    started = client.post(
        "/api/v1/pipeline-runs", json={"project": "sampleapp", "pipeline": "release", "version": "2.0.0"}
    )
    assert started.status_code == 201, started.json
    pipeline_run = started.json
    assert (pipeline_run["state"], pipeline_run["version"]) == ("running", "2.0.0")
    assert [step["state"] for step in pipeline_run["steps"]] == ["running", "pending", "pending"]
    staging_run = pipeline_run["steps"][0]["run_id"]
    assert client.get(f"/api/v1/runs/{staging_run}").json["version"] == "2.0.0"

    resumed = client.post(f"/api/v1/pipeline-runs/{pipeline_run['id']}/resume", json={})
    assert resumed.status_code == 409 and "running" in resumed.json["error"]
    end_run(staging_run, RunState.FAILED)
    engine.advance_due(get_settings())
    failed = client.get(f"/api/v1/pipeline-runs/{pipeline_run['id']}").json
    assert (failed["state"], failed["failed_step"]) == ("failed", "staging")
    bad = client.post(f"/api/v1/pipeline-runs/{pipeline_run['id']}/resume", json={"from": "nope"})
    assert bad.status_code == 400 and bad.json["field"] == "from"
    resumed = client.post(f"/api/v1/pipeline-runs/{pipeline_run['id']}/resume")
    assert resumed.status_code == 200 and resumed.json["state"] == "running"
    assert resumed.json["steps"][0]["run_id"] != staging_run

    canceled = client.post(f"/api/v1/pipeline-runs/{pipeline_run['id']}/cancel")
    assert canceled.status_code == 200, canceled.json
    assert [step["state"] for step in canceled.json["steps"]] == ["canceled", "skipped", "skipped"]
    assert client.post(f"/api/v1/pipeline-runs/{pipeline_run['id']}/cancel").status_code == 409
    listed = client.get("/api/v1/pipeline-runs?project=sampleapp&pipeline=release").json["pipeline_runs"]
    assert [(row["id"], row["state"]) for row in listed] == [(pipeline_run["id"], "canceled")]


def test_bad_definitions_and_starts_are_4xx_naming_the_field(client):
    cycle = [{"name": "a", "kind": "approval", "on_success": "b"}, {"name": "b", "kind": "approval", "on_success": "a"}]
    answer = client.post("/api/v1/pipelines", json={**PIPELINE, "steps": cycle})
    assert answer.status_code == 400 and answer.json["field"] == "steps[1].on_success"
    answer = client.post(
        "/api/v1/pipelines", json={**PIPELINE, "steps": [{"name": "x", "kind": "deploy", "environment": "mars"}]}
    )
    assert answer.status_code == 400 and answer.json["field"] == "steps[0].environment"
    assert client.post("/api/v1/pipelines", json=PIPELINE).status_code == 201
    assert client.post("/api/v1/pipelines", json=PIPELINE).status_code == 409
    start = {"project": "sampleapp", "pipeline": "release"}
    assert client.post("/api/v1/pipeline-runs", json={**start, "pipeline": "nope"}).status_code == 404
    answer = client.post("/api/v1/pipeline-runs", json={**start, "ref": "main"})
    assert answer.status_code == 400 and answer.json["field"] == "ref"  # a directory project has no refs
    answer = client.post("/api/v1/pipeline-runs", json={**start, "version": "1.0\n"})
    assert answer.status_code == 400 and answer.json["field"] == "version"


def test_a_developer_may_not_start_a_pipeline_that_reaches_a_protected_environment(client):
    assert client.post("/api/v1/pipelines", json=PIPELINE).status_code == 201
    staging_only = {"project": "sampleapp", "name": "staging", "steps": RELEASE_STEPS[:2]}
    assert client.post("/api/v1/pipelines", json=staging_only).status_code == 201
    developer = as_user("dev", "developer", projects=("sampleapp",))
    answer = client.post(
        "/api/v1/pipeline-runs", json={"project": "sampleapp", "pipeline": "release"}, headers=developer
    )
    assert answer.status_code == 403 and "production" in answer.json["error"]
    assert client.get("/api/v1/pipeline-runs", headers=developer).json["pipeline_runs"] == []
    # Nor define or change pipelines (the project's editors do), nor decide approval steps.
    assert client.post("/api/v1/pipelines", json={**PIPELINE, "name": "mine"}, headers=developer).status_code == 403
    answer = client.post(
        "/api/v1/pipeline-runs", json={"project": "sampleapp", "pipeline": "staging"}, headers=developer
    )
    assert answer.status_code == 201, answer.json
    pipeline_run = answer.json["id"]
    assert client.post(f"/api/v1/pipeline-runs/{pipeline_run}/decide", json={"step": "smoke", "approve": True},
                       headers=developer).status_code == 403  # fmt: skip
    # Another developer may not cancel it; its starter may.
    other = as_user("eve", "developer", projects=("sampleapp",))
    assert client.post(f"/api/v1/pipeline-runs/{pipeline_run}/cancel", headers=other).status_code == 403
    assert client.post(f"/api/v1/pipeline-runs/{pipeline_run}/cancel", headers=developer).status_code == 200
    viewer = as_user("val", "viewer")
    assert (
        client.post(
            "/api/v1/pipeline-runs", json={"project": "sampleapp", "pipeline": "staging"}, headers=viewer
        ).status_code
        == 403
    )


def test_metrics_count_pipeline_runs_by_state(client):
    assert client.post("/api/v1/pipelines", json=PIPELINE).status_code == 201
    start = {"project": "sampleapp", "pipeline": "release", "version": "1.0.0"}
    first = client.post("/api/v1/pipeline-runs", json=start).json["id"]
    client.post("/api/v1/pipeline-runs", json=start)
    client.post(f"/api/v1/pipeline-runs/{first}/cancel")
    metrics = scrape(client)["playdeck_pipeline_runs"]
    labels = (("pipeline", "release"), ("project", "sampleapp"))
    assert metrics == {(*labels, ("state", "canceled")): 1, (*labels, ("state", "running")): 1}
