"""A run lost with its worker is retried automatically only where the project says so, as a new run."""

from __future__ import annotations

import json

import pytest

from playdeck import db, projects, reaper
from playdeck.errors import ValidationError
from playdeck.runs.queries import list_runs
from playdeck.runs.transitions import claim_run
from tests.runners.test_reaper import age, queue, state_of
from tests.webui.webui_testing import broker_messages
from webui.params import parse_filters


def lose(run_id: int, settings) -> reaper.ReapReport:
    """Claim the run for a worker that then goes silent, and let the reaper find it."""
    with db.session_scope() as session:
        assert claim_run(session, run_id, "worker-a", 4242)
    age(run_id, heartbeat_at=settings.lost_after_seconds + 5)
    return reaper.reap()


def retry_lost(times: int) -> None:
    with db.session_scope() as session:
        projects.set_options(session, "sampleapp", retry_lost_runs=times)


def test_deploys_are_not_retried_by_default(embedded):
    run_id = queue()
    assert lose(run_id, embedded).lost == [run_id]
    with db.session_scope() as session:
        listed = list_runs(session, parse_filters({})).runs
    assert [json.loads(run)["id"] for run in listed] == [run_id]
    assert "retried" not in state_of(run_id).reason


def test_lost_run_is_retried_as_a_new_linked_run_up_to_the_limit(embedded):
    retry_lost(1)
    first = queue()
    lose(first, embedded)

    lost = state_of(first)
    assert lost.state == "lost"
    with db.session_scope() as session:
        newest = json.loads(list_runs(session, parse_filters({})).runs[0])
    retry = state_of(newest["id"])
    assert retry.id != first and retry.state == "queued"
    assert (retry.relaunch_of_id, retry.retry_number) == (first, 1)
    assert retry.requested_by == "playdeck-retry"
    assert (retry.environment.name, retry.version, retry.extra_vars) == ("staging", lost.version, lost.extra_vars)
    assert f"retried automatically as run {retry.id} (retry 1 of 1)" in lost.reason
    assert ("playdeck.execute_run", [retry.id]) in broker_messages(embedded)

    # The retry is lost too: the limit is reached, nothing more is started.
    lose(retry.id, embedded)
    assert state_of(retry.id).state == "lost"
    with db.session_scope() as session:
        assert json.loads(list_runs(session, parse_filters({})).runs[0])["id"] == retry.id


@pytest.mark.parametrize("bad", [-1, 6, True, "2"])
def test_retry_limit_must_be_a_small_whole_number(embedded, bad):
    with pytest.raises(ValidationError, match="retry_lost_runs"):
        retry_lost(bad)
