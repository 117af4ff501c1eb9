"""One unit of work: a run's message goes to the broker only once the transaction that recorded the run
has committed, and never when it rolls back (playdeck.unit_of_work), on both kinds of services."""

from __future__ import annotations

import functools

import pytest
from sqlalchemy import func, select

from playdeck import db
from playdeck.errors import DispatchError, ValidationError
from playdeck.models import Run
from playdeck.runs.requests import RunRequest, submit_run
from playdeck.runs.taskqueue import EXECUTE_RUN_TASK
from playdeck.settings import Settings
from playdeck.unit_of_work import send_after_commit
from tests.webui.webui_testing import broker_messages

STAGING = RunRequest(project="sampleapp", environment="staging")
PRODUCTION = RunRequest(project="sampleapp", environment="production")


@pytest.fixture(params=["embedded", "production"])
def services(request: pytest.FixtureRequest) -> Settings:
    """SQLite + the filesystem broker, and MariaDB + Redis."""
    return request.getfixturevalue(request.param)


def run_count() -> int:
    with db.session_scope() as session:
        return session.scalar(select(func.count()).select_from(Run))


def test_a_run_is_sent_after_its_transaction_commits_not_before(services: Settings) -> None:
    with db.session_scope() as session:
        run_id = submit_run(session, STAGING).id
        # Recorded and flushed, but a worker could not read the row yet: nothing is sent.
        assert broker_messages(services) == []
    assert broker_messages(services) == [(EXECUTE_RUN_TASK, [run_id])]


def test_a_run_whose_transaction_rolls_back_is_never_sent(services: Settings) -> None:
    with pytest.raises(ValidationError), db.session_scope() as session:
        submit_run(session, STAGING)
        raise ValidationError("version", "a later check of the caller's refused the request")
    assert run_count() == 0
    assert broker_messages(services) == []
    # The session is done with: a later transaction sends only its own messages.
    with db.session_scope() as session:
        run_id = submit_run(session, STAGING).id
    assert broker_messages(services) == [(EXECUTE_RUN_TASK, [run_id])]


def test_a_savepoint_rolled_back_takes_only_its_own_messages(services: Settings) -> None:
    with db.session_scope() as session:
        kept = submit_run(session, STAGING).id
        with pytest.raises(ValidationError), session.begin_nested():
            submit_run(session, PRODUCTION)
            raise ValidationError("environment", "refused inside the savepoint")
        also_kept = submit_run(session, STAGING).id
    assert run_count() == 2
    assert sorted(broker_messages(services)) == [(EXECUTE_RUN_TASK, [kept]), (EXECUTE_RUN_TASK, [also_kept])]


def test_messages_are_sent_in_the_order_recorded_and_a_failed_one_does_not_stop_the_rest(embedded: Settings) -> None:
    sent: list[int] = []

    def refused() -> None:
        raise DispatchError("the broker did not take it")

    with db.session_scope() as session:
        send_after_commit(session, functools.partial(sent.append, 1))
        send_after_commit(session, refused)  # logged; the reaper re-sends a queued run
        send_after_commit(session, functools.partial(sent.append, 2))
        assert sent == []
    assert sent == [1, 2]


def test_a_failed_send_that_must_succeed_is_raised_after_the_commit(embedded: Settings) -> None:
    def refused() -> None:
        raise DispatchError("the broker did not take it")

    with pytest.raises(DispatchError), db.session_scope() as session:
        run_id = submit_run(session, STAGING).id
        send_after_commit(session, refused, must_succeed=True)
    with db.session_scope() as session:
        assert session.get(Run, run_id).state == "queued"  # committed: the reaper sends it again
