"""Approvals: a deploy to an environment that requires them waits (``awaiting_approval``) until enough of
the people allowed to approve have said yes; one "no" ends it ``rejected``, and a request nobody decided in
time ends ``expired`` (``approval_expiry``, a duty of the reaper).

While it waits the run holds no deploy lock, no worker and no broker message: the approval that completes it
queues it (``transitions.queue_approved``) and sends its message after the commit, through the dispatch of
any deploy. Each decision is one conditional UPDATE of the run's row (``playdeck.runs.transitions``), so a
decision racing another, the expiry or a cancel is settled by the database: exactly one of them moves the
run on. The requester never decides on their own run, and each person decides once (a unique key).

Deadlines are the web's and the reaper's own clocks (naive UTC), like dispatch times.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from playdeck import audit, webhooks
from playdeck.auth.permissions import Principal
from playdeck.errors import Conflict, Forbidden, ValidationError
from playdeck.models import Environment, Run, RunApproval, utcnow
from playdeck.runs import transitions
from playdeck.runs.dispatch import dispatch_after_commit
from playdeck.runs.queries import get_run
from playdeck.runs.run_request import RunRequest
from playdeck.runs.states import RunKind, RunState
from playdeck.serializers import iso

APPROVE, REJECT = "approve", "reject"
DECISIONS = (APPROVE, REJECT)
MAX_COMMENT_CHARS = 2000


def required_for(request: RunRequest, environment: Environment) -> int:
    """How many approvals a requested run needs before it is queued (0: none). The platform's own runs
    (DNS regeneration, retries of lost runs that were approved already) need none; a rollback needs none
    where the environment says so."""
    if request.platform or request.kind != RunKind.DEPLOY:
        return 0
    if request.rollback_of is not None and environment.rollback_skips_approval:
        return 0
    return environment.approvals_required


def initial_state(request: RunRequest, environment: Environment, now: dt.datetime) -> dict[str, object]:
    """A requested run's state and approval columns: queued and dispatched now, or awaiting approval until
    the environment's timeout, with no message sent."""
    required = required_for(request, environment)
    if not required:
        return {"state": RunState.QUEUED, "dispatched_at": now, "approvals_required": 0}
    deadline = now + dt.timedelta(seconds=environment.approval_timeout_seconds)
    return {"state": RunState.AWAITING_APPROVAL, "approvals_required": required, "approval_expires_at": deadline}


def requested(session: Session, run_id: int) -> None:
    """The run was just recorded awaiting approval: its approvers are told (webhooks), in its transaction."""
    webhooks.enqueue_event(session, run_id, "approval_requested")


def approvers_text(environment: Environment) -> str:
    """Who may approve, in words: "a release_manager or admin, or alice or bob"."""
    return approvers_words(environment.approver_roles, environment.approver_users)


def approvers_words(roles: list[str], users: list[str]) -> str:
    """``approvers_text`` of an environment's approver roles and users as read from their columns."""
    parts = []
    if roles:
        parts.append("a " + " or ".join(roles))
    if users:
        parts.append(" or ".join(users))
    return ", or ".join(parts) or "nobody (set approver roles or users)"


def may_approve(principal: Principal, environment: Environment) -> bool:
    return principal.role.value in environment.approver_roles or principal.name in environment.approver_users


def _check_comment(comment: object) -> str:
    if comment is None:
        return ""
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS:
        raise ValidationError("comment", f"must be text of at most {MAX_COMMENT_CHARS} characters")
    if any(ord(char) < 32 and char not in "\n\t" for char in comment):
        raise ValidationError("comment", "must not contain control characters")
    return comment


def _not_awaiting(run: Run, now: dt.datetime) -> Conflict:
    if run.state == RunState.AWAITING_APPROVAL and run.approval_expires_at and run.approval_expires_at <= now:
        return Conflict(f"run {run.id}'s approval request expired at {run.approval_expires_at:%Y-%m-%d %H:%M} UTC")
    return Conflict(f"run {run.id} is not awaiting approval: it is {run.state}")


def _check_decider(session: Session, run: Run, principal: Principal, now: dt.datetime) -> None:
    """Clear refusals before anything is written; the conditional UPDATE that follows has the last word."""
    if run.state != RunState.AWAITING_APPROVAL or (run.approval_expires_at and run.approval_expires_at <= now):
        raise _not_awaiting(run, now)
    _check_person(session, run, principal)


def _check_person(session: Session, run: Run, principal: Principal) -> None:
    if run.requested_by == principal.name:
        raise Forbidden(f"{principal.name} requested run {run.id}: a requester never decides on their own run "
                        "(cancel it instead)")  # fmt: skip
    if not may_approve(principal, run.environment):
        raise Forbidden(f"run {run.id} needs the approval of {approvers_text(run.environment)}; "
                        f"{principal.name} ({principal.role.value}) may not decide on it")  # fmt: skip
    earlier = session.scalar(
        select(RunApproval.decision).where(RunApproval.run_id == run.id, RunApproval.user_name == principal.name)
    )
    if earlier is not None:
        raise Conflict(f"{principal.name} already decided on run {run.id} ({earlier}); each approver counts once")


def _record(session: Session, run_id: int, who: str, decision: str, comment: str, now: dt.datetime) -> None:
    try:
        # A savepoint: a second decision of the same person (racing their first) is a Conflict, not a 500.
        with session.begin_nested():
            session.add(RunApproval(run_id=run_id, user_name=who, decision=decision, comment=comment, created_at=now))
    except IntegrityError:
        raise Conflict(f"{who} already decided on run {run_id}; each approver counts once") from None


@dataclass(frozen=True)
class Decision:
    run_id: int
    decision: str
    # What the decision did: "recorded" (more approvals needed), "queued", or "rejected".
    outcome: str
    approvals_given: int
    approvals_required: int


def decide(
    session: Session,
    run_id: int,
    principal: Principal,
    decision: str,
    comment: object = "",
    now: dt.datetime | None = None,
) -> Decision:
    """``principal`` approves or rejects run ``run_id``, in the caller's transaction (audited, notified);
    the approval that completes the run queues it and sends it to the workers after the commit.

    Forbidden for the requester and for whoever the environment does not name; Conflict for a run that does
    not await approval (any more), whose deadline passed, or that this person decided on already."""
    if decision not in DECISIONS:
        raise ValidationError("decision", f"must be one of {', '.join(DECISIONS)}")
    comment = _check_comment(comment)
    if decision == REJECT and not comment.strip():
        raise ValidationError("comment", "is required to reject: say why, for the requester and the audit log")
    now = now or utcnow()
    run = get_run(session, run_id)
    _check_decider(session, run, principal, now)
    if decision == REJECT:
        return _reject(session, run, principal.name, comment, now)
    counted = transitions.count_approval(session, run_id, now)
    if counted is None:
        session.expire(run)
        raise _not_awaiting(get_run(session, run_id), now)
    _record(session, run_id, principal.name, APPROVE, comment, now)
    given, required = counted
    outcome = "queued" if given >= required and _queue(session, run, now) else "recorded"
    audit.record(session, "run.approve", "run", run_id,
                 {"comment": comment, "approvals_given": given, "approvals_required": required, "outcome": outcome},
                 actor=principal.name)  # fmt: skip
    return Decision(run_id, APPROVE, outcome, given, required)


def _queue(session: Session, run: Run, now: dt.datetime) -> bool:
    if not transitions.queue_approved(session, run.id, now):
        return False
    webhooks.enqueue_event(session, run.id, "approved")
    if run.project.supersede_queued:
        transitions.supersede_waiting(session, run)
    # The same path as any new deploy: sent once this commits, the lock taken by the worker's claim.
    dispatch_after_commit(session, run.id, run.queue, run.not_before, must_succeed=True)
    return True


def _reject(session: Session, run: Run, who: str, comment: str, now: dt.datetime) -> Decision:
    reason = f"rejected by {who}" + (f": {comment}" if comment else "")
    if not transitions.reject(session, run.id, now, reason[:2000]):
        session.expire(run)
        raise _not_awaiting(get_run(session, run.id), now)
    _record(session, run.id, who, REJECT, comment, now)
    audit.record(session, "run.reject", "run", run.id, {"comment": comment}, actor=who)
    return Decision(run.id, REJECT, "rejected", run.approvals_given, run.approvals_required)


def panel(session: Session, run: Run, principal: Principal) -> dict[str, object]:
    """What the run page shows of the run's approvals, for ``principal``: the decisions so far, who may
    decide, and whether this viewer may (else why not)."""
    awaiting = run.state == RunState.AWAITING_APPROVAL
    why_not = ""
    if awaiting:
        try:
            _check_person(session, run, principal)
        except (Forbidden, Conflict) as exc:
            why_not = exc.message
    return {
        "required": run.approvals_required,
        "given": run.approvals_given,
        "awaiting": awaiting,
        "expires_at": iso(run.approval_expires_at),
        "approvers": approvers_text(run.environment),
        "may_decide": awaiting and not why_not,
        "why_not": why_not,
        "decisions": decisions(session, run.id),
    }


def decisions(session: Session, run_id: int) -> list[dict[str, object]]:
    """The run's decisions, oldest first, as the API and the run page show them."""
    rows = session.scalars(select(RunApproval).where(RunApproval.run_id == run_id).order_by(RunApproval.id))
    return [
        {"user": row.user_name, "decision": row.decision, "comment": row.comment, "at": iso(row.created_at)}
        for row in rows
    ]
