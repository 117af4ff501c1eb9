"""Run lifecycle: request, list, and the atomic state changes a worker makes.

State changes are conditional UPDATEs (``WHERE state IN <allowed sources>``) so two processes racing
for the same run never both win: a run is claimed by at most one worker and ends in exactly one state.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, Select, bindparam, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from playdeck import audit, launch_inputs, projects, webhooks
from playdeck.db import Executor
from playdeck.db_clock import database_utcnow
from playdeck.errors import Conflict, NotFound, ValidationError
from playdeck.launch_form import validate_values
from playdeck.models import Environment, Project, Run, RunHostSummary, utcnow
from playdeck.runs import locks
from playdeck.runs.states import TERMINAL_STATES, RunKind, RunState, is_terminal, sources_of
from playdeck.serializers import run_brief_sql
from playdeck.var_names import check_var_name
from playdeck.worker_identity import current_worker_id

# Matched in full (fullmatch): with match, "$" also accepts a trailing newline ("1.0\n").
VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
# Ansible host patterns (names, groups, globs, ranges, unions, exclusions); no shell metacharacters,
# although nothing is ever passed through a shell anyway.
# No "@": Ansible reads "@path" as a file of host names, and echoes an unmatched one to the log.
LIMIT_RE = re.compile(r"[A-Za-z0-9_.:,!&*\[\]-]{1,512}")
TAG_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
USER_RE = re.compile(r"[\w.@-]{1,100}")
MAX_EXTRA_VARS_BYTES = 64 * 1024
# What a DATETIME column holds in MariaDB/MySQL; a query time outside it is refused rather than compared.
MIN_QUERY_TIME = dt.datetime(1000, 1, 1)
MAX_QUERY_TIME = dt.datetime(9999, 12, 31, 23, 59, 59)
MAX_TAGS = 50
# Variables only the platform gives a run: the built-in DNS runs' zone, zone directory, rndc program
# and server. From a launcher, dns_rndc would be a program the worker executes.
PLATFORM_VAR_PREFIXES = ("dns_",)
QUEUE_FOR_KIND = {RunKind.DEPLOY: "deploy", RunKind.DNS: "dns"}
QUEUED_ONLY = frozenset({RunState.QUEUED})
RUNNING_ONLY = frozenset({RunState.RUNNING})


@dataclass
class RunRequest:
    project: str
    environment: str
    version: str = ""
    extra_vars: dict[str, Any] = field(default_factory=dict)
    limit: str = ""
    tags: list[str] = field(default_factory=list)
    check: bool = False
    requested_by: str = "anonymous"
    kind: str = RunKind.DEPLOY
    # Seconds; None means the project's limit. Never more than the project allows.
    timeout: int | None = None
    idle_timeout: int | None = None
    relaunch_of: int | None = None
    # Naive UTC; the broker holds the run's message until then. Set by the system (DNS scheduling).
    not_before: dt.datetime | None = None
    # True only from Playdeck's own callers (DNS scheduling, retries of lost runs): a run of a built-in
    # project, of another kind than a deploy, with the platform's variables. Whatever a person or a
    # program launches (API, web form, CLI, relaunch) leaves it False.
    platform: bool = False


def _validate(request: RunRequest) -> None:
    if not isinstance(request.project, str) or not request.project:
        raise ValidationError("project", "is required")
    if not isinstance(request.environment, str) or not request.environment:
        raise ValidationError("environment", "is required")
    if not isinstance(request.version, str) or (request.version and not VERSION_RE.fullmatch(request.version)):
        raise ValidationError(
            "version", "must be 1-128 characters of letters, digits and . _ + - (starting with a letter or digit)"
        )
    if not isinstance(request.extra_vars, dict):
        raise ValidationError("extra_vars", "must be a JSON object of variable names to values")
    for name in request.extra_vars:
        check_var_name(name, "extra_vars")
    if len(json.dumps(request.extra_vars)) > MAX_EXTRA_VARS_BYTES:
        raise ValidationError("extra_vars", f"larger than {MAX_EXTRA_VARS_BYTES} bytes")
    if not isinstance(request.limit, str) or (request.limit and not LIMIT_RE.fullmatch(request.limit)):
        raise ValidationError(
            "limit", "must be an Ansible host pattern of letters, digits and _ . : , ! & * [ ] - (no spaces, no @file)"
        )
    if not isinstance(request.tags, list) or len(request.tags) > MAX_TAGS:
        raise ValidationError("tags", f"must be a list of at most {MAX_TAGS} tag names")
    for tag in request.tags:
        if not isinstance(tag, str) or not TAG_RE.fullmatch(tag):
            raise ValidationError("tags", f"'{tag}' is not a valid tag (letters, digits, _ . -)")
    if not isinstance(request.check, bool):
        raise ValidationError("check", "must be true or false")
    if not isinstance(request.requested_by, str) or not USER_RE.fullmatch(request.requested_by):
        raise ValidationError("requested_by", "must be 1-100 characters of letters, digits and . @ _ -")
    if request.kind not in QUEUE_FOR_KIND:
        raise ValidationError("kind", f"must be one of {', '.join(QUEUE_FOR_KIND)}")
    if not request.platform:
        _validate_launched(request)


def _validate_launched(request: RunRequest) -> None:
    """What a launcher may not ask for, however privileged: the platform's own runs and variables."""
    if projects.is_built_in(request.project):
        raise ValidationError(
            "project",
            f"project '{request.project}' is built in: Playdeck starts its runs itself (DNS changes regenerate "
            "their zones), nobody deploys or relaunches it",
        )
    if request.kind != RunKind.DEPLOY:
        raise ValidationError("kind", "runs are started as deploys")
    for name in request.extra_vars:
        if name.startswith(PLATFORM_VAR_PREFIXES):
            prefixes = ", ".join(PLATFORM_VAR_PREFIXES)
            raise ValidationError("extra_vars", f"'{name}': names starting with {prefixes} are set by Playdeck only")


def _validate_limits(request: RunRequest, project: Project) -> None:
    bounds = (("timeout", request.timeout, project.run_timeout_seconds),
              ("idle_timeout", request.idle_timeout, project.idle_timeout_seconds))  # fmt: skip
    for field_name, value, project_limit in bounds:
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError(field_name, "must be a whole number of seconds from 1")
        if project_limit and value > project_limit:
            raise ValidationError(field_name, f"at most {project_limit} s for project '{project.name}'")


def _launch_values(request: RunRequest, project: Project) -> tuple[dict[str, Any], dict[str, str]]:
    """A deploy's extra vars checked against the project's launch form (defaults filled in, undeclared
    names refused), secrets masked; and the secret values alone. System runs (DNS) set their own."""
    if request.kind != RunKind.DEPLOY:
        return request.extra_vars, {}
    form = launch_inputs.form_for(project)
    return launch_inputs.split_secrets(form, validate_values(form, request.extra_vars))


def _supersede_waiting(session: Session, run: Run) -> None:
    """Cancel the older runs still queued for the same environment: the newer version replaces them."""
    now = utcnow()
    waiting = session.scalars(
        select(Run.id).where(
            Run.project_id == run.project_id,
            Run.environment_id == run.environment_id,
            Run.state == RunState.QUEUED.value,
            Run.id < run.id,
        )
    ).all()
    # One by one through the conditional transition (few runs wait): one that started meanwhile keeps
    # running, and each cancel notifies like any other.
    for run_id in waiting:
        _transition(
            session,
            run_id,
            RunState.CANCELED,
            QUEUED_ONLY,
            finished_at=now,
            cancel_requested_at=now,
            canceled_by=run.requested_by,
            reason=f"superseded by run {run.id}",
        )


def request_run(session: Session, request: RunRequest) -> Run:
    """Validate and record a queued run. The caller commits, then dispatches (never before)."""
    _validate(request)
    project = projects.get_project(session, request.project)
    environment = projects.get_environment(project, request.environment)
    _validate_limits(request, project)
    extra_vars, secret_inputs = _launch_values(request, project)
    now = utcnow()
    run = Run(
        kind=request.kind,
        project=project,
        environment=environment,
        version=request.version,
        extra_vars_json=json.dumps(extra_vars, sort_keys=True),
        secret_var_names_json=json.dumps(sorted(secret_inputs)),
        limit=request.limit,
        tags_json=json.dumps(request.tags),
        check_mode=request.check,
        requested_by=request.requested_by,
        # The environment's own queue (the workers that can reach its hosts), else the kind's default.
        queue=environment.queue or QUEUE_FOR_KIND[request.kind],
        state=RunState.QUEUED,
        queued_at=now,
        # Its message is sent right after this commits (submit_run).
        dispatched_at=now,
        timeout_seconds=request.timeout,
        idle_timeout_seconds=request.idle_timeout,
        relaunch_of_id=request.relaunch_of,
        not_before=request.not_before,
    )
    session.add(run)
    session.flush()
    if secret_inputs:
        # Sealed for this run's id, known once it is inserted; cleared when the run ends (_transition).
        run.secret_vars_sealed = launch_inputs.seal(run.id, secret_inputs)
    if run.kind == RunKind.DEPLOY:
        # A DNS change's regeneration run is audited as the DNS change itself.
        audit.record(
            session,
            "run.relaunch" if request.relaunch_of else "run.request",
            "run",
            run.id,
            {
                "project": project.name,
                "environment": environment.name,
                "version": request.version,
                "limit": request.limit,
                "tags": request.tags,
                "check": request.check,
                # Names only: a value may be a secret.
                "extra_vars": sorted(extra_vars),
                "relaunch_of": request.relaunch_of,
            },
        )
    if project.supersede_queued and run.kind == RunKind.DEPLOY:
        _supersede_waiting(session, run)
    return run


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


def parse_filters(args: dict[str, str]) -> RunFilters:
    """Filters from query-string style arguments, with a clear error for each bad one."""
    states = [s for s in (args.get("state") or "").split(",") if s]
    for state in states:
        if state not in RunState.__members__.values():
            raise ValidationError("state", f"'{state}' is not a run state ({', '.join(RunState)})")
    return RunFilters(
        project=args.get("project") or None,
        environment=args.get("environment") or None,
        states=states,
        requested_by=args.get("requested_by") or None,
        since=_parse_time("since", args.get("since")),
        until=_parse_time("until", args.get("until")),
    )


def _parse_time(name: str, value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            # OverflowError for a time zone that moves it before year 1 or after 9999.
            parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise ValidationError(name, f"'{value}' is not an ISO 8601 date or time") from None
    if not MIN_QUERY_TIME <= parsed <= MAX_QUERY_TIME:
        raise ValidationError(name, f"must be between {MIN_QUERY_TIME:%Y-%m-%d} and {MAX_QUERY_TIME:%Y-%m-%d}")
    return parsed


def parse_page(value: str | None, name: str = "page") -> int:
    if value in (None, ""):
        return 1
    # ASCII digits, and not too many: int() refuses "²" (str.isdigit() is true for it) and over 4,300 digits.
    if not (value.isascii() and value.isdigit() and len(value) <= 20) or not 1 <= int(value) <= 1_000_000:
        raise ValidationError(name, f"must be a whole number from 1, got '{value}'")
    return int(value)


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


# --- state changes made by workers ---------------------------------------------------------------


def _transition(
    session: Session, run_id: int, target: RunState, only_from: frozenset[RunState] | None = None, **values: Any
) -> bool:
    """Move the run to ``target`` if its current state allows it (and is in ``only_from``, if given);
    False if another process got there first."""
    sources = sources_of(target) if only_from is None else sources_of(target) & only_from
    if target in TERMINAL_STATES:
        # A launch's secret inputs are kept only for the worker that starts the run.
        values["secret_vars_sealed"] = None
    result = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.state.in_([s.value for s in sources]))
        .values(state=target.value, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    if target in TERMINAL_STATES:
        # In the same transaction as the terminal state: no path to an end can leave the lock behind.
        locks.release(session, run_id)
    # Likewise the webhook notifications (an outbox): they commit, or roll back, with the state change.
    webhooks.enqueue(session, run_id, target)
    return True


def claim_run(session: Session, run_id: int, worker_host: str, worker_pid: int, worker_id: int | None = None) -> bool:
    """queued → running for exactly one worker, however many times the message is delivered.

    ``worker_id`` defaults to the registered worker master of this (pool) process, if any.
    False also when the run's environment is locked by another running deploy: the run then stays
    queued (this transaction is rolled back) until the holder ends and dispatches it again.
    """
    now = utcnow()
    claimed = _transition(
        session,
        run_id,
        RunState.RUNNING,
        started_at=now,
        heartbeat_at=database_utcnow(),
        worker_host=worker_host,
        worker_pid=worker_pid,
        worker_id=current_worker_id() if worker_id is None else worker_id,
        attempt=Run.attempt + 1,
    )
    if claimed and locks.acquire(session, run_id) is not None:
        session.rollback()
        return False
    return claimed


def finish_run(session: Session, run_id: int, state: RunState, rc: int | None = None, reason: str = "") -> bool:
    if state not in TERMINAL_STATES:
        raise ValueError(f"{state} is not a terminal state")
    return _transition(session, run_id, state, finished_at=utcnow(), rc=rc, reason=reason)


@dataclass
class RunControl:
    """What an executing worker must know: is the run still its to run, and was a cancel requested."""

    state: str
    cancel_requested: bool


def control(session: Session, run_id: int, beat: bool = False) -> RunControl:
    """Read the run's control state; with ``beat``, also prove the worker is alive (heartbeat)."""
    if beat:
        session.execute(
            update(Run)
            .where(Run.id == run_id, Run.state == RunState.RUNNING.value)
            .values(heartbeat_at=database_utcnow())
            .execution_options(synchronize_session=False)
        )
    row = session.execute(select(Run.state, Run.cancel_requested_at).where(Run.id == run_id)).one()
    return RunControl(state=row.state, cancel_requested=row.cancel_requested_at is not None)


def request_cancel(session: Session, run_id: int, by: str, force: bool = False) -> Run:
    """Cancel a run: a queued one ends ``canceled`` at once and never starts; a running one is flagged
    and its worker stops the whole process tree, then records ``canceled``.

    ``force`` is for a run whose worker has vanished: the run is recorded ``canceled`` (and its deploy
    lock released) at once; a worker that is in fact alive sees the state change on its next control
    poll and stops every process of the run.

    An ended run is a Conflict. Racing a run's own completion, exactly one terminal state wins: the
    conditional updates decide.
    """
    if not isinstance(by, str) or not USER_RE.fullmatch(by):
        raise ValidationError("canceled_by", "must be 1-100 characters of letters, digits and . @ _ -")
    now = utcnow()
    stamp = {"cancel_requested_at": now, "canceled_by": by}
    before_start = f"canceled by {by} before it started"
    action = "run.force_cancel" if force else "run.cancel"
    if _transition(session, run_id, RunState.CANCELED, QUEUED_ONLY, finished_at=now, reason=before_start, **stamp):
        audit.record(session, action, "run", run_id, {"was": RunState.QUEUED.value}, actor=by)
        return get_run(session, run_id)
    forced = f"force-canceled by {by}: recorded without waiting for the worker"
    if force and _transition(session, run_id, RunState.CANCELED, RUNNING_ONLY, finished_at=now, reason=forced, **stamp):
        audit.record(session, action, "run", run_id, {"was": RunState.RUNNING.value}, actor=by)
        return get_run(session, run_id)
    flagged = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.state == RunState.RUNNING.value, Run.cancel_requested_at.is_(None))
        .values(**stamp)
        .execution_options(synchronize_session=False)
    )
    run = get_run(session, run_id)
    if run.state in TERMINAL_STATES:
        raise Conflict(f"run {run_id} already ended: it is {run.state}")
    if flagged.rowcount:
        audit.record(session, action, "run", run_id, {"was": RunState.RUNNING.value}, actor=by)
    return run


def cancel_run(run_id: int, by: str, force: bool = False) -> Run:
    """``request_cancel`` in its own transaction; when that ended a run holding its environment's lock,
    the next waiting run is dispatched after the commit."""
    from playdeck.db import session_scope

    with session_scope() as session:
        run = request_cancel(session, run_id, by, force)
        ended, target = is_terminal(run.state), (run.project_id, run.environment_id)
    if ended:
        locks.dispatch_next_waiting(*target)
    return run


def set_playbook_pid(session: Session, run_id: int, pid: int) -> None:
    session.execute(update(Run).where(Run.id == run_id).values(playbook_pid=pid))


def record_host_summaries(session: Session, run_id: int, stats: dict[str, dict[str, int]]) -> None:
    """Per-host totals from the ``playbook_on_stats`` event (``{"ok": {"host": n}, "failures": {...}}``)."""
    columns = {
        "ok": "ok",
        "changed": "changed",
        "failures": "failed",
        "dark": "unreachable",
        "skipped": "skipped",
        "rescued": "rescued",
        "ignored": "ignored",
    }
    per_host: dict[str, dict[str, int]] = {}
    for stat_name, column in columns.items():
        for host, count in (stats.get(stat_name) or {}).items():
            per_host.setdefault(host, {})[column] = int(count)
    for host, counts in per_host.items():
        session.merge(RunHostSummary(run_id=run_id, host=host, **counts))


def submit_run(request: RunRequest) -> Run:
    """Record the run in its own committed transaction, then hand it to the workers."""
    # Imported here so that importing the run service never pulls in the broker client.
    from playdeck.db import session_scope
    from playdeck.runs.dispatch import dispatch_run

    with session_scope() as session:
        run = request_run(session, request)
        run_id, queue = run.id, run.queue
    dispatch_run(run_id, queue)
    with session_scope() as session:
        return get_run(session, run_id)
