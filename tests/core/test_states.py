"""The run state machine refuses every transition it does not list, in Python and in SQL."""

from __future__ import annotations

import pytest

from playdeck import db
from playdeck.errors import IllegalTransition
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import TERMINAL_STATES, RunState, can_transition, check_transition, sources_of
from playdeck.runs.transitions import claim_run, finish_run


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATES))
@pytest.mark.parametrize("target", list(RunState))
def test_a_terminal_state_is_final(terminal, target):
    with pytest.raises(IllegalTransition):
        check_transition(terminal, target)


def test_allowed_paths():
    assert can_transition("queued", "running")
    assert can_transition("queued", "canceled")
    assert not can_transition("queued", "successful")  # a run must have run to succeed
    assert not can_transition("running", "queued")
    assert sources_of("running") == {RunState.QUEUED}
    assert sources_of("successful") == {RunState.RUNNING}


def _queued_run() -> int:
    with db.session_scope() as session:
        return request_run(session, RunRequest(project="sampleapp", environment="staging")).id


def test_claim_is_won_once_and_a_finished_run_stays_finished(embedded):
    run_id = _queued_run()
    with db.session_scope() as session:
        assert claim_run(session, run_id, "a", 1)
    with db.session_scope() as session:
        assert not claim_run(session, run_id, "b", 2)  # second delivery loses
    with db.session_scope() as session:
        assert finish_run(session, run_id, RunState.SUCCESSFUL, rc=0)
    with db.session_scope() as session:
        assert not finish_run(session, run_id, RunState.FAILED, rc=2)  # exactly one terminal state
        run = get_run(session, run_id)
        assert (run.state, run.rc, run.worker_host, run.attempt) == ("successful", 0, "a", 1)


def test_a_queued_run_cannot_finish_without_running(embedded):
    run_id = _queued_run()
    with db.session_scope() as session:
        assert not finish_run(session, run_id, RunState.SUCCESSFUL, rc=0)
        assert get_run(session, run_id).state == "queued"
