"""Reading runs: one by id, pages of the listing, and the recurring questions asked of the runs table
(which runs are active, which are real deploys, what was last deployed in an environment), each named once:
the conditions in ``playdeck.runs.conditions``, the statements built from them here."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, Row, Select, bindparam, func, select
from sqlalchemy.orm import Session, aliased, joinedload, selectinload
from sqlalchemy.sql.elements import ColumnElement

from playdeck.db import Executor
from playdeck.errors import NotFound
from playdeck.models import Environment, Project, Run
from playdeck.runs.conditions import (
    RunTable,
    is_active,
    is_awaiting_approval,
    is_dispatched,
    is_real_deploy,
    is_successful,
)
from playdeck.runs.states import RunState
from playdeck.serializers import run_brief_sql

# What a run's progress is worked out from (``progress.RunFacts``, but its recap), as columns.
RUN_FACTS_COLUMNS = (Run.id, Run.environment_id, Run.state, Run.event_count, Run.queued_at, Run.started_at,
                     Run.limit, Run.tags_json, Run.check_mode)  # fmt: skip


def _successful_deploys(environment_id: ColumnElement[int], *columns: Any, run: RunTable = Run) -> Select[Any]:
    """``columns`` of the environment's successful real deploys, newest first: the first is what is deployed."""
    return (
        select(*columns)
        .where(run.environment_id == environment_id, is_successful(run), is_real_deploy(run))
        .order_by(run.id.desc())
    )


# Built once, values as parameters: SQLAlchemy memoizes a statement's cache key on the statement object.
_LAST_SUCCESSFUL_DEPLOY = _successful_deploys(bindparam("environment_id"), Run.id).limit(1)
_DEPLOYED_RELEASE = _successful_deploys(
    bindparam("environment_id"), Run.id, Run.version, Run.ref, Run.commit_sha
).limit(1)


def last_successful_deploy(session: Executor, environment_id: int) -> int | None:
    """The id of the environment's last successful real deploy (what is deployed there), None if none."""
    return session.scalar(_LAST_SUCCESSFUL_DEPLOY, {"environment_id": environment_id})


def deployed_release(session: Executor, environment_id: int) -> Row[Any] | None:
    """``last_successful_deploy`` with what it shipped, in one statement: its id, version, ref and commit."""
    return session.execute(_DEPLOYED_RELEASE, {"environment_id": environment_id}).one_or_none()


# A deploy that ended so leaves its environment broken: the next success "fixes" it.
BROKEN_ENDS = frozenset({RunState.FAILED.value, RunState.ERROR.value, RunState.TIMEOUT.value})
_PREVIOUS_ENDED_DEPLOY = (
    select(Run.state)
    .where(
        Run.environment_id == select(Run.environment_id).where(Run.id == bindparam("run_id")).scalar_subquery(),
        Run.id < bindparam("run_id"),
        is_real_deploy(),
        ~is_active(),
    )
    .order_by(Run.id.desc())
    .limit(1)
)
_RECENT_SUCCESSFUL_DEPLOYS = _successful_deploys(bindparam("environment_id"), Run.started_at, Run.finished_at).limit(
    bindparam("limit")
)


def fixes_a_failure(session: Executor, run_id: int) -> bool:
    """The run is a real deploy and its environment's previous real deploy that ended, ended broken
    (failed, error, timeout): a success of it is a fix."""
    is_deploy = session.scalar(select(is_real_deploy()).where(Run.id == run_id))
    return bool(is_deploy) and session.scalar(_PREVIOUS_ENDED_DEPLOY, {"run_id": run_id}) in BROKEN_ENDS


def recent_deploy_durations(session: Executor, environment_id: int, limit: int) -> list[float]:
    """The durations (seconds) of the environment's last ``limit`` successful real deploys, newest first."""
    rows = session.execute(_RECENT_SUCCESSFUL_DEPLOYS, {"environment_id": environment_id, "limit": limit})
    return [(finished - started).total_seconds() for started, finished in rows if started and finished]


# Built once, the limit a parameter (see _runs_query): along ix_runs_state, which holds the id too.
_ACTIVE_IDS = select(Run.id).where(is_dispatched()).order_by(Run.id).limit(bindparam("limit", type_=Integer))


def active_runs(session: Session, limit: int) -> list[Run]:
    """At most ``limit`` queued and running runs, oldest first, with their project and environment. Runs
    awaiting approval are not among them: thousands may wait for people (``awaiting_approval``)."""
    # Their ids first: most of the time none is active, and a statement of the runs with their projects
    # and environments (~80 columns) costs PyMySQL the parsing of every column's description even when
    # it finds no row: 40% of the CPU of /attention (issue 24), which asks on every request.
    ids = list(session.scalars(_ACTIVE_IDS, {"limit": limit}))
    if not ids:
        return []
    return list(
        session.scalars(
            select(Run)
            .options(joinedload(Run.project), joinedload(Run.environment))
            .where(Run.id.in_(ids))
            .order_by(Run.id)
        )
    )


# The dashboard's runs in progress: what its table shows (id, project, environment, state, who asked), then
# the columns their progress is worked out from (``RUN_FACTS_COLUMNS``).
_ACTIVE_RUN_ROWS = (
    select(Run.id, Project.name, Environment.name, Run.state, Run.requested_by, *RUN_FACTS_COLUMNS)
    .select_from(Run)
    # Outer joins keep runs the first table of the plan (see select_run_briefs).
    .outerjoin(Project, Run.project_id == Project.id)
    .outerjoin(Environment, Run.environment_id == Environment.id)
    .where(is_dispatched())
    .order_by(Run.id)
    .limit(bindparam("limit", type_=Integer))
)


def active_run_rows(session: Executor, limit: int) -> list[Row[Any]]:
    """``active_runs`` as the columns of ``_ACTIVE_RUN_ROWS``, not entities."""
    return list(session.execute(_ACTIVE_RUN_ROWS, {"limit": limit}))


# Active runs a mark looks at; past this many, the mark still moves with the newest run.
MARKED_ACTIVE_RUNS = 1000


def activity_mark(session: Executor) -> str:
    """A short text that changes whenever the pages listing runs would: a run is added, an active run
    changes state, logs more lines or is asked to cancel, or it ends (leaves the active runs). Open
    pages compare it rather than reload on a timer (``webui.live``)."""
    newest = session.scalar(select(func.max(Run.id)))
    # Queued and running runs one by one; those awaiting approval (thousands may wait) by their number, which
    # changes as one is approved, rejected, expired or canceled.
    active = session.execute(
        select(Run.id, Run.state, Run.event_count, Run.cancel_requested_at)
        .where(is_dispatched())
        .order_by(Run.id)
        .limit(MARKED_ACTIVE_RUNS)
    ).all()
    marked = (newest, awaiting_count(session), [tuple(row) for row in active])
    return hashlib.blake2b(repr(marked).encode(), digest_size=8).hexdigest()


def awaiting_count(session: Executor) -> int:
    """How many runs await approval."""
    return session.scalar(select(func.count()).select_from(Run).where(is_awaiting_approval())) or 0


@functools.cache
def _awaiting_query() -> Select[Any]:
    """Built once (see ``_runs_query``). Along ``ix_runs_state_approval_expires_at``, which holds the id too:
    the first rows in order, no sort of the thousands that may wait. The count is a subquery of no outer
    column, evaluated once, so list and count are one round trip; it stops at ``counted`` runs (a count reads
    an index entry per run: 10,000 were most of the database's time of /attention, issue 24)."""
    awaiting = aliased(Run)
    counted = select(awaiting.id).where(is_awaiting_approval(awaiting)).limit(bindparam("counted", type_=Integer))
    total = select(func.count()).select_from(counted.subquery()).scalar_subquery()
    return (
        select_run_briefs(
            Run.requested_by,
            Run.queued_at,
            Run.approvals_required,
            Run.approvals_given,
            Run.approval_expires_at,
            Environment.approver_roles_json,
            Environment.approver_users_json,
            total.label("awaiting_total"),
        )
        .where(is_awaiting_approval())
        .order_by(Run.approval_expires_at, Run.id)
        .limit(bindparam("limit", type_=Integer))
    )


def awaiting_approval(session: Executor, limit: int, counted: int) -> list[Row[Any]]:
    """At most ``limit`` runs awaiting approval, the nearest deadline first: each run's JSON text
    (``run_brief_sql``), who requested it and when, its approvals needed, given and deadline, its
    environment's approver roles and users (JSON texts), and how many runs await approval in all, counted
    up to ``counted`` (``awaiting_total``). Only these columns: the runs, projects and environments as
    entities, ~80 columns a row, were most of the CPU of /attention with 10,000 runs awaiting (issue 24)."""
    return list(session.execute(_awaiting_query(), {"limit": limit, "counted": counted}))


def deployed_runs() -> Select[tuple[int, int | None]]:
    """Each environment's id and ``last_successful_deploy`` (its run id, NULL before the first), in one
    statement: that ``LIMIT 1`` as a subquery per environment."""
    inner = aliased(Run)
    deployed = _successful_deploys(Environment.id, inner.id, run=inner).limit(1).correlate(Environment)
    return select(Environment.id.label("environment_id"), deployed.scalar_subquery().label("run_id"))


# What the dashboard shows of an environment's latest run and of its deployed run (its last successful real
# deploy): a few columns, not entities (loading 500 runs as entities with their project and environment was
# half the dashboard's time, bench/dashboard.py).
LATEST_RUN_COLUMNS = (Run.id, Run.state, Run.version, Run.queued_at)
DEPLOYED_RUN_COLUMNS = (Run.id, Run.version, Run.ref, Run.commit_sha, Run.commit_subject, Run.finished_at)


def _latest_runs_query() -> Select[Any]:
    # Grouped by (environment, state) first: MariaDB reads the (environment_id, state) index one group at a
    # time to find each group's max(id), where a grouping by environment alone reads every run of it.
    by_state = (
        select(Run.environment_id, func.max(Run.id).label("id"))
        .where(Run.environment_id.in_(bindparam("environment_ids", expanding=True)))
        .group_by(Run.environment_id, Run.state)
        .subquery()
    )
    latest = select(func.max(by_state.c.id).label("id")).group_by(by_state.c.environment_id).subquery()
    return select(Run.environment_id, *LATEST_RUN_COLUMNS).join(latest, Run.id == latest.c.id)


def _deployed_runs_query() -> Select[Any]:
    """``DEPLOYED_RUN_COLUMNS`` of each environment's ``last_successful_deploy``, in one statement."""
    inner = aliased(Run)
    deployed = _successful_deploys(Environment.id, inner.id, run=inner).limit(1).correlate(Environment)
    return (
        select(Environment.id.label("environment_id"), *DEPLOYED_RUN_COLUMNS)
        .join(Run, Run.id == deployed.scalar_subquery())
        .where(Environment.id.in_(bindparam("environment_ids", expanding=True)))
    )


# Built once: SQLAlchemy memoizes a statement's cache key on the statement object.
_LATEST_RUNS = _latest_runs_query()
_DEPLOYED_RUNS = _deployed_runs_query()


def latest_runs(session: Executor, environment_ids: list[int]) -> tuple[dict[int, Row[Any]], dict[int, Row[Any]]]:
    """Per environment: its latest run (``LATEST_RUN_COLUMNS``), and its last successful real deploy, what
    is deployed there (``DEPLOYED_RUN_COLUMNS``); an environment without one is left out. One statement
    each, whose cost follows the number of environments, not runs."""
    if not environment_ids:
        return {}, {}
    values = {"environment_ids": environment_ids}
    return (
        {row[0]: row for row in session.execute(_LATEST_RUNS, values)},
        {row[0]: row for row in session.execute(_DEPLOYED_RUNS, values)},
    )


# --- one run -----------------------------------------------------------------------------------------


# Built once, the id a parameter: SQLAlchemy memoizes a statement's cache key on the statement object.
_RUN_BY_ID = (
    select(Run)
    .options(joinedload(Run.project), joinedload(Run.environment), selectinload(Run.host_summaries))
    .where(Run.id == bindparam("run_id"))
)
_STATE_BY_ID = select(Run.state).where(Run.id == bindparam("run_id"))


def get_run(session: Session, run_id: int) -> Run:
    run = session.scalar(_RUN_BY_ID, {"run_id": run_id})
    if run is None:
        raise NotFound(f"run {run_id} does not exist")
    return run


def lock_run(session: Session, run_id: int) -> None:
    """Take the run's row lock, exclusive, before writing rows that point at the run and then the run itself.

    Inserting such a row (an event, a host summary) takes a shared lock on the run through the foreign key;
    changing the run afterwards upgrades it. A cancel asking for the row in between queues before that upgrade,
    and InnoDB breaks the cycle by failing one side with a deadlock: the cancel (a 500) or the worker's write
    (events or a run's end lost). Exclusive from the start, the other side simply waits its turn."""
    session.execute(select(Run.id).where(Run.id == run_id).with_for_update())


def run_state(session: Executor, run_id: int) -> str:
    """Just the run's state (one indexed column, no entity): what a log reader checks before its page."""
    state = session.scalar(_STATE_BY_ID, {"run_id": run_id})
    if state is None:
        raise NotFound(f"run {run_id} does not exist")
    return state


@dataclass
class RunFilters:
    project: str | None = None
    environment: str | None = None
    states: list[str] = field(default_factory=list)
    requested_by: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@dataclass
class RunPage:
    runs: list[str]  # JSON texts
    page: int
    per_page: int
    has_next: bool


# Each filter's column and comparison, in the order the WHERE clause lists them.
_FILTER_CONDITIONS = {
    "project": lambda: Project.name == bindparam("project"),
    "environment": lambda: Environment.name == bindparam("environment"),
    "states": lambda: Run.state.in_(bindparam("states", expanding=True)),
    "requested_by": lambda: Run.requested_by == bindparam("requested_by"),
    "since": lambda: Run.queued_at >= bindparam("since"),
    "until": lambda: Run.queued_at < bindparam("until"),
}


def select_run_briefs(*columns: Any) -> Select[Any]:
    """``run_brief_sql()`` (and ``columns``) from runs with the project and environment it names."""
    # Outer joins keep runs the first table of the plan, read newest first along the primary key: with
    # inner joins MariaDB may start from the 30 environments and sort all their runs (100k: 400 ms).
    return (
        select(run_brief_sql(), *columns)
        .select_from(Run)
        .outerjoin(Project, Run.project_id == Project.id)
        .outerjoin(Environment, Run.environment_id == Environment.id)
    )


@functools.cache
def _runs_query(filtered_by: frozenset[str]) -> Select[tuple[str]]:
    """The listing's statement for one set of filters, values left as parameters. Built once per set:
    SQLAlchemy memoizes a statement's cache key on the statement object, and walking this one's tree
    (a JSON object of 25 columns) on every request was an eighth of the API's CPU (issue 7)."""
    query = select_run_briefs()
    for name, condition in _FILTER_CONDITIONS.items():
        if name in filtered_by:
            query = query.where(condition())
    return (
        query.order_by(Run.id.desc())
        .offset(bindparam("offset", type_=Integer))
        .limit(bindparam("limit", type_=Integer))
    )


def list_runs(session: Executor, filters: RunFilters, page: int = 1, per_page: int = 50) -> RunPage:
    """A page of runs, newest first, each as the JSON text of ``run_json(run, with_summaries=False)``
    rendered by the database (``serializers.run_brief_sql``): one value per run to parse, not 30."""
    values = {name: getattr(filters, name) for name in _FILTER_CONDITIONS if getattr(filters, name)}
    # One row more than a page tells whether a next page exists without counting the whole table.
    rows = list(
        session.scalars(
            _runs_query(frozenset(values)), {**values, "offset": (page - 1) * per_page, "limit": per_page + 1}
        )
    )
    return RunPage(runs=rows[:per_page], page=page, per_page=per_page, has_next=len(rows) > per_page)


# The run page's run, without loading an entity (the run, its project, its environment and its recap
# as entities were half the page's CPU, issue 7): its JSON rendered by the database, and beside it the
# columns its progress is worked out from (progress.RunFacts), then its stored failure summary.
_RUN_PAGE_ROW = select_run_briefs(*RUN_FACTS_COLUMNS, Run.failure_summary_json).where(Run.id == bindparam("run_id"))


def run_page_row(session: Executor, run_id: int) -> Row[Any]:
    """The run's JSON text, then its id, environment id, state, event count, queue and start times,
    limit, tags and check mode (``progress.RunFacts``), then its failure summary's JSON text
    (``failure_summary.for_run``)."""
    row = session.execute(_RUN_PAGE_ROW, {"run_id": run_id}).one_or_none()
    if row is None:
        raise NotFound(f"run {run_id} does not exist")
    return row
