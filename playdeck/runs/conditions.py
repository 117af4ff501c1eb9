"""The recurring conditions on the runs table, each named once: which runs are active, dispatched, awaiting
approval, ended, successful, real deploys. Each takes the runs table or an alias of it (a query comparing two
runs). The statements built from them are in ``playdeck.runs.queries``."""

from __future__ import annotations

from sqlalchemy import and_
from sqlalchemy.orm.util import AliasedClass
from sqlalchemy.sql.elements import ColumnElement

from playdeck.models import Run
from playdeck.runs.states import ACTIVE_STATES, DISPATCHED_STATES, TERMINAL_STATES, RunKind, RunState

# Run, or an alias of it (a query comparing two runs).
RunTable = type[Run] | AliasedClass[Run]


def is_active(run: RunTable = Run) -> ColumnElement[bool]:
    """The run has yet to end: awaiting approval, queued or running."""
    return run.state.in_(sorted(state.value for state in ACTIVE_STATES))


def is_dispatched(run: RunTable = Run) -> ColumnElement[bool]:
    """The run is the workers' business: queued or running (not awaiting approval)."""
    return run.state.in_(sorted(state.value for state in DISPATCHED_STATES))


def is_awaiting_approval(run: RunTable = Run) -> ColumnElement[bool]:
    """The run waits for people (approvers), not for a worker."""
    return run.state == RunState.AWAITING_APPROVAL.value


def is_successful(run: RunTable = Run) -> ColumnElement[bool]:
    return run.state == RunState.SUCCESSFUL.value


def is_real_deploy(run: RunTable = Run) -> ColumnElement[bool]:
    """A deploy that changed its hosts: of kind deploy, not a check-mode (dry) run, the project's own playbook
    (``states.real_deploy``)."""
    return and_(run.kind == RunKind.DEPLOY.value, run.check_mode.is_(False), run.playbook.is_(None))


def is_ended(run: RunTable = Run) -> ColumnElement[bool]:
    """The run is in a terminal state: it ended, or never started (rejected, expired)."""
    return run.state.in_(sorted(state.value for state in TERMINAL_STATES))
