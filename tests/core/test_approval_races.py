"""Races around a run awaiting approval, on MariaDB with real concurrent transactions: a decision racing the
expiry, a cancel or another decision, and several expiry passes at once. Each time exactly one wins, the
loser is told (a Conflict, or nothing expired), and nothing is recorded twice."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, insert, select, update

from playdeck import db, environments
from playdeck.auth.permissions import Principal, Role
from playdeck.errors import Conflict
from playdeck.models import AuditEvent, Run, RunApproval, utcnow
from playdeck.release_control import approval_expiry, approvals
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.transitions import request_cancel

RITA = Principal(1, "rita", Role.RELEASE_MANAGER)
RICK = Principal(2, "rick", Role.RELEASE_MANAGER)
ROUNDS = 10


@pytest.fixture
def approvals_on(production):
    with db.session_scope() as session:
        environments.set_options(session, "sampleapp", "staging", approvals_required=1)
    return production


def awaiting_run(deadline_in: float = 3600) -> int:
    with db.session_scope() as session:
        run_id = request_run(session, RunRequest(project="sampleapp", environment="staging", requested_by="dev")).id
        session.execute(
            update(Run).where(Run.id == run_id).values(approval_expires_at=utcnow() + dt.timedelta(seconds=deadline_in))
        )
    return run_id


def race(*contenders: Callable[[], object]) -> list[object]:
    """Each contender in its own thread, released together; what each returned (a Conflict, the answer a
    loser gets, counts as None). Any other error (a deadlock, say) fails the test."""
    results: list[object] = [None] * len(contenders)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(contenders))

    def contend(index: int, contender: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[index] = contender()
        except Conflict:
            results[index] = None
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=contend, args=pair) for pair in enumerate(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def approve(run_id: int, who: Principal = RITA, now: dt.datetime | None = None) -> Callable[[], object]:
    def decide() -> object:
        with db.session_scope() as session:
            return approvals.decide(session, run_id, who, "approve", "ok", now=now)

    return decide


def reject(run_id: int, now: dt.datetime) -> Callable[[], object]:
    def decide() -> object:
        with db.session_scope() as session:
            return approvals.decide(session, run_id, RITA, "reject", "no", now=now)

    return decide


def expiry_pass(settings, now: dt.datetime) -> Callable[[], object]:
    return lambda: approval_expiry.expire_requests(settings, now)


def cancel(run_id: int) -> Callable[[], object]:
    def cancel_it() -> object:
        with db.session_scope() as session:
            return request_cancel(session, run_id, "dev").reason

    return cancel_it


def deadline_of(run_id: int) -> dt.datetime:
    with db.session_scope() as session:
        return get_run(session, run_id).approval_expires_at


def decisions_of(run_id: int) -> int:
    with db.session_scope() as session:
        return session.scalar(select(func.count()).select_from(RunApproval).where(RunApproval.run_id == run_id))


def test_an_approval_racing_the_expiry(approvals_on):
    for _ in range(ROUNDS):
        run_id = awaiting_run(deadline_in=5)
        deadline = deadline_of(run_id)
        # Both are entitled: the approver decides before the deadline, the reaper passes after it.
        approved, expired = race(
            approve(run_id, now=deadline - dt.timedelta(seconds=1)),
            expiry_pass(approvals_on, deadline + dt.timedelta(seconds=1)),
        )
        state = get_state(run_id)
        assert (approved is not None) != (expired == [run_id]), (approved, expired)
        assert state == ("queued" if approved else "expired")
        assert decisions_of(run_id) == (1 if approved else 0)


def test_a_rejection_racing_the_expiry(approvals_on):
    for _ in range(ROUNDS):
        run_id = awaiting_run(deadline_in=5)
        deadline = deadline_of(run_id)
        rejected, expired = race(
            reject(run_id, deadline - dt.timedelta(seconds=1)),
            expiry_pass(approvals_on, deadline + dt.timedelta(seconds=1)),
        )
        assert (rejected is not None) != (expired == [run_id])
        assert get_state(run_id) == ("rejected" if rejected else "expired")


def test_an_approval_racing_a_cancel(approvals_on):
    for _ in range(ROUNDS):
        run_id = awaiting_run()
        approved, cancel_reason = race(approve(run_id), cancel(run_id))
        with db.session_scope() as session:
            run = get_run(session, run_id)
        # Exactly one of them moved the run on from awaiting approval: the approval queued it (and a cancel
        # after it found a queued run), or the cancel ended it and the approval was refused.
        left_by_cancel = cancel_reason == "canceled by dev while awaiting approval"
        assert (approved is not None) != left_by_cancel, (approved, cancel_reason)
        assert (run.approved_at is not None) == (approved is not None)
        assert run.state == "canceled"  # either way, the cancel was honoured
        assert decisions_of(run_id) == (1 if approved else 0)


def test_two_last_approvals_at_once_queue_the_run_once(approvals_on):
    with db.session_scope() as session:
        environments.set_options(session, "sampleapp", "staging", approvals_required=2)
    for _ in range(ROUNDS):
        run_id = awaiting_run()
        assert approve(run_id, Principal(3, "ruth", Role.RELEASE_MANAGER))().outcome == "recorded"
        results = race(approve(run_id, RITA), approve(run_id, RICK))
        won = [result for result in results if result is not None]
        assert len(won) == 1 and won[0].outcome == "queued"
        with db.session_scope() as session:
            run = get_run(session, run_id)
        assert (run.state, run.approvals_given) == ("queued", 2)
        assert decisions_of(run_id) == 2


def test_several_expiry_passes_expire_each_request_once(approvals_on):
    due = utcnow() - dt.timedelta(seconds=1)
    with db.session_scope() as session:
        template = get_run(session, awaiting_run())
        rows = [
            {"kind": "deploy", "project_id": template.project_id, "environment_id": template.environment_id,
             "requested_by": "dev", "queue": "deploy", "state": "awaiting_approval", "queued_at": due,
             "approvals_required": 1, "approval_expires_at": due}
            for _ in range(1500)
        ]  # fmt: skip
        session.execute(insert(Run), rows)
        session.execute(update(Run).where(Run.id == template.id).values(approval_expires_at=due))
    with db.session_scope() as session:
        waiting = set(session.scalars(select(Run.id).where(Run.state == "awaiting_approval")))
    assert len(waiting) == 1501

    passes = race(*[expiry_pass(approvals_on, utcnow()) for _ in range(4)])
    expired = [run_id for result in passes for run_id in result]
    assert sorted(expired) == sorted(waiting)  # every one, and none twice
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Run).where(Run.state == "expired")) == 1501
        audited = session.scalars(select(AuditEvent.target).where(AuditEvent.action == "run.approval_expired")).all()
    assert sorted(map(int, audited)) == sorted(waiting)


def get_state(run_id: int) -> str:
    with db.session_scope() as session:
        return get_run(session, run_id).state
