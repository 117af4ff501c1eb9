"""Pipeline runs on MariaDB, their step runs queued and ended as a worker would: the next step along the success
or failure edge, the commit of the start on every step, cancel, resume, approval steps, and two advancers racing
for one step's end."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select

from playdeck import db, webhooks
from playdeck.auth import users
from playdeck.errors import Conflict, Forbidden, ValidationError
from playdeck.models import Project, Run, WebhookDelivery
from playdeck.pipelines import engine
from playdeck.pipelines.models import PipelineStepRun
from playdeck.runs import lost
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run
from playdeck.settings import get_settings
from tests.conftest import configure, make_user
from tests.pipelines.helpers import RELEASE_STEPS, add_pipeline, end_run, start, state, steps

OK, FAILED = RunState.SUCCESSFUL, RunState.FAILED


@pytest.fixture
def sample(monkeypatch, tmp_path, mariadb_url):
    configure(monkeypatch, data_dir=str(tmp_path / "data"), database_url=mariadb_url)


def advance() -> list[int]:
    return engine.advance_due(get_settings())


def run_row(run_id: int) -> Run:
    with db.session_scope() as session:
        run = session.get(Run, run_id)
        session.expunge(run)
        return run


def test_a_pipeline_goes_step_by_step_and_stops_at_a_failed_smoke_test(sample):
    pipeline_run = start(add_pipeline(), version="2.0.0")
    first = steps(pipeline_run)
    assert [state for state, _ in first.values()] == ["running", "pending", "pending"]
    staging_run = run_row(first["staging"][1])
    assert (staging_run.pipeline_run_id, staging_run.pipeline_step, staging_run.version) == (
        pipeline_run,
        "staging",
        "2.0.0",
    )
    assert advance() == []  # its run has not ended: nothing to do
    end_run(staging_run.id, OK)
    assert len(advance()) == 1
    smoke_run = run_row(steps(pipeline_run)["smoke"][1])
    # The smoke playbook, against staging, of the same version.
    assert (smoke_run.playbook, smoke_run.version) == ("sampleapp/smoke.yml", "2.0.0")
    assert smoke_run.environment_id == staging_run.environment_id
    end_run(smoke_run.id, FAILED)
    advance()
    assert state(pipeline_run) == "failed"
    assert [state for state, _ in steps(pipeline_run).values()] == ["succeeded", "failed", "skipped"]
    assert advance() == []


def failed_at_smoke() -> tuple[int, int]:
    """A pipeline run of RELEASE_STEPS (version 2.0.0) whose staging step succeeded and whose smoke test failed;
    (pipeline run, failed smoke run)."""
    pipeline_run = start(add_pipeline(), version="2.0.0")
    end_run(steps(pipeline_run)["staging"][1], OK)
    advance()
    smoke_run = steps(pipeline_run)["smoke"][1]
    end_run(smoke_run, FAILED)
    advance()
    return pipeline_run, smoke_run


def test_resume_runs_the_failed_step_again_keeps_the_steps_done_and_finishes(sample):
    pipeline_run, failed_smoke = failed_at_smoke()
    with db.session_scope() as session, pytest.raises(ValidationError) as refused:
        engine.resume(session, pipeline_run, "staging", "admin")
    assert refused.value.field == "from"
    with db.session_scope() as session:
        engine.resume(session, pipeline_run, None, "admin")
    resumed = steps(pipeline_run)
    assert resumed["staging"][0] == "succeeded" and resumed["smoke"][0] == "running"
    assert resumed["smoke"][1] != failed_smoke
    with db.session_scope() as session, pytest.raises(Conflict, match="only a failed pipeline run is resumed"):
        engine.resume(session, pipeline_run, None, "admin")
    end_run(resumed["smoke"][1], OK)
    advance()
    end_run(steps(pipeline_run)["production"][1], OK)
    advance()
    assert state(pipeline_run) == "succeeded"
    assert run_row(steps(pipeline_run)["production"][1]).version == "2.0.0"


def test_a_failure_edge_leads_on_and_the_pipeline_still_ends_failed(sample):
    pipeline = add_pipeline(steps=[
        {"name": "deploy", "kind": "deploy", "environment": "staging", "on_success": None, "on_failure": "undo"},
        {"name": "undo", "kind": "playbook", "environment": "staging", "playbook": "sampleapp/rollback.yml"},
    ])  # fmt: skip
    pipeline_run = start(pipeline)
    end_run(steps(pipeline_run)["deploy"][1], FAILED)
    advance()
    assert steps(pipeline_run)["undo"][0] == "running"
    end_run(steps(pipeline_run)["undo"][1], OK)
    advance()
    assert state(pipeline_run) == "failed"


def test_cancel_cancels_the_running_steps_run_and_skips_the_rest(sample):
    pipeline_run = start(add_pipeline())
    staging_run = steps(pipeline_run)["staging"][1]
    with db.session_scope() as session:
        engine.cancel(session, pipeline_run, "admin")
    assert state(pipeline_run) == "canceled"
    assert [state for state, _ in steps(pipeline_run).values()] == ["canceled", "skipped", "skipped"]
    assert run_row(staging_run).state == "canceled"
    assert advance() == []
    with db.session_scope() as session, pytest.raises(Conflict):
        engine.cancel(session, pipeline_run, "admin")


def test_an_approval_step_waits_for_a_decision(sample):
    pipeline = add_pipeline(steps=[
        {"name": "staging", "kind": "deploy", "environment": "staging"},
        {"name": "go", "kind": "approval"},
        {"name": "production", "kind": "promote", "environment": "production", "from": "staging"},
    ])  # fmt: skip
    pipeline_run = start(pipeline, version="3.1.0")
    staging_run = steps(pipeline_run)["staging"][1]
    end_run(staging_run, OK)
    advance()
    assert steps(pipeline_run)["go"] == ("awaiting_approval", None)
    # Four eyes: whoever started the pipeline run does not decide its approval, either way.
    for approve in (True, False):
        with db.session_scope() as session, pytest.raises(Forbidden, match="its starter never decides"):
            engine.decide(session, pipeline_run, "go", "admin", approve=approve)
    assert steps(pipeline_run)["go"] == ("awaiting_approval", None)
    with db.session_scope() as session:
        engine.decide(session, pipeline_run, "go", "boss", approve=True)
    with db.session_scope() as session, pytest.raises(Conflict):
        engine.decide(session, pipeline_run, "go", "boss", approve=True)
    promoted = run_row(steps(pipeline_run)["production"][1])
    assert (promoted.promoted_from_id, promoted.version) == (staging_run, "3.1.0")


def test_a_refused_step_fails_the_pipeline_with_the_reason(sample):
    pipeline = add_pipeline(steps=[
        {"name": "staging", "kind": "deploy", "environment": "staging"},
        {"name": "production", "kind": "promote", "environment": "production", "from": "staging"},
    ])  # fmt: skip
    pipeline_run = start(pipeline, version="1.0.0")
    with db.session_scope() as session:
        # A check-mode deploy cannot be promoted: the promote step is refused when it comes.
        session.get(Run, steps(pipeline_run)["staging"][1]).check_mode = True
    end_run(steps(pipeline_run)["staging"][1], OK)
    advance()
    assert state(pipeline_run) == "failed"
    with db.session_scope() as session:
        reason = session.scalar(select(PipelineStepRun.reason).where(PipelineStepRun.step == "production"))
    assert "check-mode" in reason


def staging_ended(pipeline_run: int) -> int:
    """The staging step's id, once its run ended successfully."""
    with db.session_scope() as session:
        staging_step = session.scalar(select(PipelineStepRun.id).where(PipelineStepRun.step == "staging"))
    end_run(steps(pipeline_run)["staging"][1], OK)
    return staging_step


def race_for_the_lock(monkeypatch, *bodies) -> None:
    """Each of ``bodies`` on a thread of its own, each in its own transaction: all have read what they read
    before any takes the pipeline run's lock."""
    ready = threading.Barrier(len(bodies), timeout=30)
    lock = engine.lock

    def wait_then_lock(*args, **kwargs):
        ready.wait()
        return lock(*args, **kwargs)

    monkeypatch.setattr(engine, "lock", wait_then_lock)

    def in_transaction(body) -> None:
        with db.session_scope() as session:
            body(session)

    threads = [threading.Thread(target=in_transaction, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)


def test_two_advancers_racing_for_one_steps_end_start_the_next_step_once(sample, monkeypatch):
    pipeline_run = start(add_pipeline(), version="2.0.0")
    staging_step = staging_ended(pipeline_run)
    results: list[bool] = []
    advancer = lambda session: results.append(engine.advance(session, staging_step))  # noqa: E731
    race_for_the_lock(monkeypatch, advancer, advancer)
    assert sorted(results) == [False, True]
    with db.session_scope() as session:
        smoke_runs = session.scalar(
            select(func.count())
            .select_from(Run)
            .where(Run.pipeline_run_id == pipeline_run, Run.pipeline_step == "smoke")
        )
    assert smoke_runs == 1
    assert steps(pipeline_run)["smoke"][0] == "running"


def test_a_pipeline_runs_end_goes_through_the_webhook_outbox(sample):
    with db.session_scope() as session:
        webhooks.create_webhook(session, "sampleapp", "https://hooks.example.com/playdeck", events=["pipeline_failed"])
    pipeline_run, smoke_run = failed_at_smoke()
    with db.session_scope() as session:
        [delivery] = session.scalars(select(WebhookDelivery)).all()
        assert (delivery.event, delivery.run_id) == ("pipeline_failed", smoke_run)
        payload = json.loads(delivery.payload)
    assert (payload["run"]["pipeline_run_id"], payload["run"]["pipeline_step"]) == (pipeline_run, "smoke")


def test_each_step_runs_with_its_starters_permissions_of_that_moment(sample):
    make_user("dev", "developer", projects=("sampleapp",))
    pipeline_run = start(add_pipeline(steps=RELEASE_STEPS[:2]), by="dev", version="2.0.0")
    with db.session_scope() as session:
        users.set_role(session, users.get_user(session, "dev"), "viewer")
    end_run(steps(pipeline_run)["staging"][1], OK)
    advance()
    assert state(pipeline_run) == "failed"
    with db.session_scope() as session:
        reason = session.scalar(select(PipelineStepRun.reason).where(PipelineStepRun.step == "smoke"))
    assert reason.startswith("its run was refused: its starter may no longer deploy to sampleapp/staging")


def test_a_cancel_racing_the_advance_of_a_step_leaves_no_step_running(sample, monkeypatch):
    pipeline_run = start(add_pipeline(), version="2.0.0")
    staging_step = staging_ended(pipeline_run)
    race_for_the_lock(
        monkeypatch,
        lambda session: engine.advance(session, staging_step),
        lambda session: engine.cancel(session, pipeline_run, "admin"),
    )
    assert state(pipeline_run) == "canceled"
    assert not {"running", "pending"} & {state for state, _ in steps(pipeline_run).values()}
    with db.session_scope() as session:
        active = session.scalars(
            select(Run.id).where(Run.pipeline_run_id == pipeline_run, Run.state.in_(["queued", "running"]))
        ).all()
    assert active == []


def test_a_lost_step_run_that_is_retried_keeps_the_pipeline_going_on_its_retry(sample):
    # Without it, the pipeline failed on the lost run while its automatic retry deployed unlinked.
    with db.session_scope() as session:
        session.scalar(select(Project).where(Project.name == "sampleapp")).retry_lost_runs = 1
    pipeline_run = start(add_pipeline(), version="2.0.0")
    lost_run = steps(pipeline_run)["staging"][1]
    with db.session_scope() as session:
        assert claim_run(session, lost_run, "test-host", 1)
    with db.session_scope() as session:
        retry = lost.record_lost(session, lost_run, "its worker died").retry
    assert retry is not None
    retry_run = run_row(retry[0])
    assert (retry_run.pipeline_run_id, retry_run.pipeline_step) == (pipeline_run, "staging")
    assert advance() == []  # the step waits for the retry
    assert steps(pipeline_run)["staging"] == ("running", retry_run.id)
    end_run(retry_run.id, OK)
    assert len(advance()) == 1
    assert steps(pipeline_run)["staging"] == ("succeeded", retry_run.id)
    assert steps(pipeline_run)["smoke"][0] == "running"
    assert state(pipeline_run) == "running"
