"""The DORA measures of a project: deploy frequency, duration, change failure rate, time to restore.

Runs go through their life with the real services (request, claim, finish), then their start and end
times are set with an UPDATE and ``now`` is passed explicitly, so no test waits for days to pass."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from playdeck import db
from playdeck.delivery_metrics import delivery_metrics, parse_days
from playdeck.errors import ValidationError
from playdeck.models import Run
from playdeck.projects import get_environment, get_project
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run
from playdeck.settings import Settings

NOW = dt.datetime(2026, 3, 31, 18, 0)
TODAY = dt.datetime.combine(NOW.date(), dt.time())


@pytest.fixture(params=["embedded", "production"])
def services(request: pytest.FixtureRequest) -> Settings:
    """SQLite and MariaDB spell date arithmetic differently: the test runs on both."""
    return request.getfixturevalue(request.param)


def deploy(environment: str, state: RunState, finished: dt.datetime, seconds: float = 60, check: bool = False) -> int:
    with db.session_scope() as session:
        run_id = request_run(session, RunRequest("sampleapp", environment, check=check)).id
    with db.session_scope() as session:
        assert claim_run(session, run_id, "testhost", 123)
    with db.session_scope() as session:
        assert finish_run(session, run_id, state, rc=0 if state == RunState.SUCCESSFUL else 2)
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(started_at=finished - dt.timedelta(seconds=seconds), finished_at=finished)
        )
    return run_id


def metrics(days: int = 30, environment: str | None = None):
    with db.session_scope() as session:
        project = get_project(session, "sampleapp")
        env = get_environment(project, environment) if environment else None
        return delivery_metrics(session, project, days, env, now=NOW)


def at(days_ago: int, hour: int) -> dt.datetime:
    return TODAY - dt.timedelta(days=days_ago) + dt.timedelta(hours=hour)


def test_frequency_duration_failure_rate_and_time_to_restore(services: Settings) -> None:
    deploy("staging", RunState.SUCCESSFUL, at(5, 10), seconds=60)
    deploy("staging", RunState.FAILED, at(4, 10))
    deploy("staging", RunState.TIMEOUT, at(4, 12))  # the same outage: it began with the first failure
    deploy("staging", RunState.SUCCESSFUL, at(3, 10), seconds=120)
    deploy("production", RunState.SUCCESSFUL, at(2, 9), seconds=90)
    deploy("production", RunState.FAILED, at(1, 9))  # not restored yet
    # Not deploys that count: a dry run, a canceled one, and one before the window.
    deploy("staging", RunState.SUCCESSFUL, at(2, 11), check=True)
    deploy("staging", RunState.CANCELED, at(2, 12))
    deploy("staging", RunState.SUCCESSFUL, at(45, 10))

    result = metrics()

    assert len(result.per_day) == 30 and result.per_day[-1].day == NOW.date()
    assert (result.deploys, result.failures) == (3, 3)
    assert result.change_failure_rate == pytest.approx(0.5)
    assert result.deploys_per_day == pytest.approx(3 / 30)
    assert result.mean_duration_seconds == pytest.approx(90)
    assert result.median_restore_seconds == pytest.approx(24 * 3600)
    assert result.unrestored == 1
    by_day = {day.day: day for day in result.per_day}
    assert by_day[at(4, 0).date()].failures == 2 and by_day[at(4, 0).date()].deploys == 0
    assert by_day[at(3, 0).date()].restores == [pytest.approx(24 * 3600)]
    assert by_day[at(5, 0).date()].mean_duration_seconds == pytest.approx(60)
    assert by_day[at(2, 0).date()].deploys == 1  # production's; staging's dry run is not one

    # 90 days reach the older deploy; one environment counts only its own runs.
    assert metrics(days=90).deploys == 4
    production = metrics(environment="production")
    assert (production.deploys, production.failures, production.unrestored) == (1, 1, 1)
    assert production.median_restore_seconds is None


def test_a_project_without_deploys_has_empty_metrics(services: Settings) -> None:
    result = metrics(days=90)
    assert (result.deploys, result.failures, result.unrestored) == (0, 0, 0)
    assert result.change_failure_rate is None and result.mean_duration_seconds is None
    assert len(result.per_day) == 90


@pytest.mark.parametrize("value", ["7", "abc", "-30", "30.0"])
def test_only_the_offered_windows_are_accepted(value: str) -> None:
    with pytest.raises(ValidationError, match="must be one of 30, 90"):
        parse_days(value)
    assert parse_days(None) == 30 and parse_days("90") == 90


def roll_back(replaced: int, environment: str, finished: dt.datetime, state: RunState = RunState.SUCCESSFUL) -> int:
    """A rollback run of ``replaced``, through the same services a worker calls."""
    with db.session_scope() as session:
        request = RunRequest("sampleapp", environment, version="1.0", rollback_of=replaced)
        run_id = request_run(session, request).id
    with db.session_scope() as session:
        assert claim_run(session, run_id, "testhost", 123)
    with db.session_scope() as session:
        assert finish_run(session, run_id, state, rc=0)
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(started_at=finished - dt.timedelta(seconds=30), finished_at=finished)
        )
    return run_id


def test_a_rolled_back_deploy_is_a_failed_change_and_the_rollback_restores(services: Settings) -> None:
    deploy("production", RunState.SUCCESSFUL, at(3, 9))
    bad = deploy("production", RunState.SUCCESSFUL, at(2, 9))  # succeeded, but broke the site
    roll_back(bad, "production", at(2, 9) + dt.timedelta(minutes=25))

    result = metrics()

    # The bad deploy is a failure, not a deploy; the first deploy and the rollback are the deploys.
    assert (result.deploys, result.failures) == (2, 1)
    assert result.change_failure_rate == pytest.approx(1 / 3)
    # Its outage began when it finished and ended when the rollback succeeded.
    assert result.median_restore_seconds == pytest.approx(25 * 60)
    assert result.unrestored == 0


def test_a_rollback_ends_the_outage_of_a_failed_deploy(services: Settings) -> None:
    good = deploy("staging", RunState.SUCCESSFUL, at(3, 9))
    deploy("staging", RunState.FAILED, at(2, 9))
    roll_back(good, "staging", at(2, 10))

    result = metrics(environment="staging")

    # The good deploy was rolled back too (the rollback replaced it), and the rollback ended both outages.
    assert result.median_restore_seconds is not None and result.unrestored == 0
    assert max(seconds for day in result.per_day for seconds in day.restores) == pytest.approx(3600 * 25)


def test_a_rollback_that_failed_restores_nothing(services: Settings) -> None:
    bad = deploy("staging", RunState.SUCCESSFUL, at(2, 9))
    roll_back(bad, "staging", at(2, 10), state=RunState.FAILED)

    result = metrics(environment="staging")

    assert (result.deploys, result.failures) == (0, 2)
    assert result.median_restore_seconds is None and result.unrestored == 1
