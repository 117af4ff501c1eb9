"""A real Celery worker executing real playbooks with ansible-runner against MariaDB + Redis."""

from __future__ import annotations

import json

from playdeck import db, projects
from playdeck.runs.events import events_after
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from playdeck.runs.taskqueue import EXECUTE_RUN_TASK, producer
from testing import fault_report
from tests.cli.cli_support import wait_until
from tests.conftest import queue_run, wait_for_state


def submit(project: str, **extra) -> int:
    return queue_run(RunRequest(project=project, environment="dev", **extra)).id


def artifact_events(settings, run_id: int) -> list[dict]:
    job_events = settings.runs_dir / str(run_id) / "attempt-1" / "artifacts" / "artifacts" / "job_events"
    return [json.loads(path.read_text()) for path in job_events.glob("*.json")]


def test_deploy_runs_to_success_and_every_event_is_persisted(test_projects, start_worker, tmp_path):
    start_worker()
    marker = tmp_path / "marker.txt"
    run_id = submit("marker", version="1.4.2", extra_vars={"marker_file": str(marker)})

    assert wait_for_state(run_id, {"successful", "failed", "error"}) == "successful"

    with db.session_scope() as session:
        run = get_run(session, run_id)
        stored = events_after(session, run_id, 0, limit=1000)
        summaries = {s.host: (s.ok, s.changed, s.failed, s.skipped) for s in run.host_summaries}
        assert run.rc == 0 and run.attempt == 1 and run.started_at and run.finished_at
        assert run.playbook_pid and run.worker_pid and run.event_count == len(stored)
    produced = artifact_events(test_projects, run_id)
    # The DB holds exactly the events ansible-runner produced: same counters, same uuids.
    assert sorted((e["counter"], e["uuid"]) for e in produced) == [(e.counter, e.uuid) for e in stored]
    assert any("hello from host1 at version 1.4.2" in e.stdout for e in stored)
    # The log opens with the play, not with a library's warning to developers.
    assert not [e.stdout for e in stored if "Warning" in e.stdout]
    # Skipped: the go-ahead wait on both hosts (no release_file); pause is implicitly run_once, so only
    # host1 reports it.
    assert summaries == {"host1": (2, 1, 0, 2), "host2": (2, 1, 0, 1)}
    assert sorted(marker.read_text().split("\n")[:-1]) == [f"{run_id} host1", f"{run_id} host2"]


def test_failed_host_makes_the_run_failed_with_per_host_totals(test_projects, start_worker):
    start_worker()
    run_id = submit("partial")

    assert wait_for_state(run_id, {"successful", "failed", "error"}) == "failed"
    with db.session_scope() as session:
        run = get_run(session, run_id)
        assert run.rc == 2 and "rc 2" in run.reason
        assert {s.host: s.failed for s in run.host_summaries} == {"host1": 0, "host2": 1}


def test_duplicate_delivery_executes_the_run_once(test_projects, start_worker, tmp_path):
    worker = start_worker(concurrency=2)
    marker = tmp_path / "marker.txt"
    run_id = submit("marker", extra_vars={"marker_file": str(marker), "pause_seconds": 2})
    # Two more copies of the same message while the first executes, one per free pool process.
    for _ in range(2):
        producer().send_task(EXECUTE_RUN_TASK, args=[run_id], queue="deploy", routing_key="deploy")

    assert wait_for_state(run_id, {"successful", "failed", "error"}) == "successful"
    wait_until(lambda: worker.output().count("not executing it again") == 2, 30, "both redeliveries refused")
    with db.session_scope() as session:
        assert get_run(session, run_id).attempt == 1
    # One line per host: the playbook ran once.
    assert sorted(marker.read_text().split("\n")[:-1]) == [f"{run_id} host1", f"{run_id} host2"]
    fault_report.record(9, [run_id], marker=marker)


def test_check_mode_limit_and_tags_reach_ansible(test_projects, start_worker, tmp_path):
    start_worker()
    marker = tmp_path / "marker.txt"
    run_id = submit("marker", limit="host2", check=True, extra_vars={"marker_file": str(marker)})

    assert wait_for_state(run_id, {"successful", "failed", "error"}) == "successful"
    with db.session_scope() as session:
        run = get_run(session, run_id)
        assert [s.host for s in run.host_summaries] == ["host2"]
    # --check: the shell task is skipped, so nothing was appended.
    assert not marker.exists()


def test_missing_playbook_ends_in_error_not_running(test_projects, start_worker):
    start_worker()
    with db.session_scope() as session:
        project = projects.get_project(session, "marker")
        project.playbook = "deleted.yml"  # removed from disk after registration
    run_id = submit("marker")
    assert wait_for_state(run_id, {"successful", "failed", "error"}) == "error"
    with db.session_scope() as session:
        assert "playbook 'deleted.yml' not found" in get_run(session, run_id).reason
