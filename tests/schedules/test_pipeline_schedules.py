"""Schedules that start a pipeline, on MariaDB with a fixed clock: each fire time gives one pipeline run (passes
repeated and racing), started as the owner with their permissions at fire time; an owner who may not reach
every environment of the pipeline is refused (API: 403; at fire time: the schedule pauses itself)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from playdeck import db
from playdeck.models import Run
from playdeck.pipelines import service as pipelines
from playdeck.pipelines.models import PipelineRun
from playdeck.schedules import firing, service
from playdeck.schedules.models import Schedule, ScheduleFire
from playdeck.settings import get_settings
from tests.conftest import as_user, configure, make_user, web_client
from tests.pipelines.helpers import RELEASE_STEPS, add_pipeline, steps
from tests.schedules.helpers import racing_passes

T0 = dt.datetime(2027, 3, 27, 12, 0)
FIRE = dt.datetime(2027, 3, 28, 1, 0)  # 02:00 Berlin does not exist that night: 03:00 CEST


def add(owner: str, pipeline: str = "release", **fields) -> int:
    given = {"project": "sampleapp", "pipeline": pipeline, "cron": "0 2 * * *", "timezone": "Europe/Berlin",
             "version": "2.0.0", **fields}  # fmt: skip
    with db.session_scope() as session:
        return service.create(session, given, owner, now=T0).id


def pipeline_runs() -> list[tuple[int, str, str]]:
    with db.session_scope() as session:
        return [
            tuple(row)
            for row in session.execute(select(PipelineRun.id, PipelineRun.requested_by, PipelineRun.version)).all()
        ]


def fire_rows(schedule_id: int) -> list[tuple[str, int | None, str]]:
    with db.session_scope() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(ScheduleFire.outcome, ScheduleFire.pipeline_run_id, ScheduleFire.reason).where(
                    ScheduleFire.schedule_id == schedule_id
                )
            ).all()
        ]


@pytest.fixture
def sample(monkeypatch, tmp_path, mariadb_url):
    configure(monkeypatch, data_dir=str(tmp_path / "data"), database_url=mariadb_url)
    make_user("rm", "release_manager", projects=("sampleapp",))
    make_user("dev", "developer", projects=("sampleapp",))


def test_a_due_pipeline_schedule_starts_one_pipeline_run_however_often_the_duty_runs(sample):
    add_pipeline()
    schedule_id = add("rm")
    settings = get_settings()
    assert firing.fire_due(settings, FIRE - dt.timedelta(seconds=1)) == []
    fired = firing.fire_due(settings, FIRE)
    assert firing.fire_due(settings, FIRE + dt.timedelta(seconds=1)) == []
    assert [(f.outcome, f.run_id) for f in fired] == [("run", None)]
    [(pipeline_run, requested_by, version)] = pipeline_runs()
    assert (fired[0].pipeline_run_id, requested_by, version) == (pipeline_run, "rm", "2.0.0")
    assert fire_rows(schedule_id) == [("run", pipeline_run, "")]
    # Its first step is an ordinary run, requested as the owner; the rest wait.
    first_state, first_run = steps(pipeline_run)["staging"]
    with db.session_scope() as session:
        run = session.get(Run, first_run)
        assert (run.requested_by, run.environment.name, run.pipeline_run_id) == ("rm", "staging", pipeline_run)
    assert [state for state, _ in steps(pipeline_run).values()][1:] == ["pending", "pending"]


def test_three_passes_racing_for_a_pipeline_schedules_fire_time_start_one_pipeline_run(sample, monkeypatch):
    add_pipeline()
    schedule_id = add("rm")
    results = racing_passes(monkeypatch, FIRE)
    assert sorted(len(result) for result in results) == [0, 0, 1]
    assert len(pipeline_runs()) == 1
    assert [outcome for outcome, _, _ in fire_rows(schedule_id)] == ["run"]
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 1


def test_a_developer_owner_is_refused_a_pipeline_reaching_a_protected_environment(sample):
    release = add_pipeline()
    add_pipeline(name="staging", steps=RELEASE_STEPS[:2])
    # Saved while the pipeline reached staging only; then it was changed to go on to production.
    schedule_id = add("dev", pipeline="staging")
    with db.session_scope() as session:
        pipelines.update(session, pipelines.by_name(session, "sampleapp", "staging").id, {"steps": RELEASE_STEPS})
    fired = firing.fire_due(get_settings(), FIRE)
    assert [(f.outcome, f.pipeline_run_id) for f in fired] == [("paused", None)]
    assert pipeline_runs() == []
    with db.session_scope() as session:
        schedule = session.get(Schedule, schedule_id)
        assert not schedule.enabled and "production" in schedule.paused_reason
    [(outcome, _, reason)] = fire_rows(schedule_id)
    assert outcome == "paused" and "production" in reason
    assert firing.fire_due(get_settings(), FIRE + dt.timedelta(days=1)) == []
    assert release  # the release pipeline (staging → production) exists but was never started


def test_the_api_and_page_of_a_pipeline_schedule(embedded):
    client = web_client()
    admin: dict[str, str] = {}
    body = {"project": "sampleapp", "name": "release", "steps": RELEASE_STEPS}
    assert client.post("/api/v1/pipelines", json=body, headers=admin).status_code == 201
    given = {"project": "sampleapp", "pipeline": "release", "cron": "0 2 * * *", "timezone": "Europe/Berlin"}
    developer = as_user("dev", "developer", projects=("sampleapp",))
    answer = client.post("/api/v1/schedules", json=given, headers=developer)
    assert answer.status_code == 403 and "production" in answer.json["error"]
    answer = client.post("/api/v1/schedules", json={**given, "environment": "staging"}, headers=admin)
    assert answer.status_code == 400 and "either" in answer.json["error"]
    answer = client.post("/api/v1/schedules", json={**given, "limit": "web1"}, headers=admin)
    assert answer.status_code == 400 and "limit" in answer.json["error"]
    answer = client.post("/api/v1/schedules", json={**given, "pipeline": "nope"}, headers=admin)
    assert answer.status_code == 404
    answer = client.post("/api/v1/schedules", json={**given, "version": "2.0.0"}, headers=admin)
    assert answer.status_code == 201, answer.json
    assert (answer.json["pipeline"], answer.json["environment"]) == ("release", None)
    listed = client.get("/api/v1/schedules", headers=developer).json["schedules"]
    assert [(item["pipeline"], item["environment"]) for item in listed] == [("release", None)]
    # A developer may not change or delete it: it reaches production.
    schedule_id = answer.json["id"]
    assert client.delete(f"/api/v1/schedules/{schedule_id}", headers=developer).status_code == 403
    page = client.get("/projects/sampleapp/schedules").get_data(as_text=True)
    assert "pipeline <a" in page and ">release</a>" in page and 'value="pipeline:release"' in page
    assert client.delete(f"/api/v1/schedules/{schedule_id}", headers=admin).status_code == 204
    # The page's form adds one too (the target select offers the project's pipelines).
    form = {"environment": "pipeline:release", "kind": "cron", "cron": "0 3 * * *", "timezone": "UTC",
            "version": "2.0.0"}  # fmt: skip
    assert client.post("/projects/sampleapp/schedules", data=form).status_code == 303
    listed = client.get("/api/v1/schedules").json["schedules"]
    assert [(item["pipeline"], item["cron"]) for item in listed] == [("release", "0 3 * * *")]


def test_only_new_commits_starts_a_pipeline_only_when_its_branch_has_moved(sample, tmp_path):
    from testing.git_servers import RepoBuilder
    from tests.git.projects import add_staged_project

    repo = RepoBuilder(tmp_path / "repos", "shop")
    repo.commit("one", {"deploy/site.yml": "- hosts: all\n  tasks: []\n", "deploy/inventory.ini": "web1\n"})
    with db.session_scope() as session:
        add_staged_project(session, "shop", repo.url, git_cache_seconds=0)
    add_pipeline(project="shop", steps=RELEASE_STEPS[:1])
    schedule_id = add("admin", project="shop", version="", ref="main", only_new_commits=True, cron="0 * * * *",
                      timezone="UTC")  # fmt: skip
    first = firing.fire_due(get_settings(), dt.datetime(2027, 3, 27, 13, 0, 1))
    second = firing.fire_due(get_settings(), dt.datetime(2027, 3, 27, 14, 0, 1))
    assert [f.outcome for f in (*first, *second)] == ["run", "skipped"]
    assert second[0].reason.startswith("no new commit on main since the last scheduled pipeline run")
    repo.commit("two", {"app.txt": "two\n"})
    third = firing.fire_due(get_settings(), dt.datetime(2027, 3, 27, 15, 0, 1))
    assert [f.outcome for f in third] == ["run"]
    with db.session_scope() as session:
        commits = [session.get(PipelineRun, f.pipeline_run_id).commit_sha for f in (*first, *third)]
        assert commits[0] != commits[1]
        assert session.get(Schedule, schedule_id).last_commit_sha == commits[1]
