"""The ``playdeck`` command.

``deploy``, ``relaunch``, ``cancel`` and ``runs`` talk to the JSON API (PLAYDECK_URL) with an API token
(PLAYDECK_TOKEN), so a run started from a terminal is validated, recorded and dispatched exactly like one
started in the UI, as the token's user. ``db``, ``worker``, ``web`` and ``up`` run the local services;
``project``, ``env``, ``workers``, ``drain``, ``user`` and ``token`` work on the database directly: they are for
whoever administers the server (has its configuration). Exit codes: 0 done (for ``deploy --wait`` and
``relaunch --wait``: the run succeeded), 1 the run did not succeed or a local failure, 2 bad input or
refused by the API, 3 API unreachable, 4 API error.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from playdeck import private_files
from playdeck.auth.permissions import Role
from playdeck.cli.apiclient import ApiError, ApiUnreachable, PlaydeckApi, cli_token_path, configured_token
from playdeck.cli.progress import ProgressDisplay
from playdeck.errors import PlaydeckError
from playdeck.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from playdeck.auth.models import User
    from playdeck.workers import DrainOutcome, WorkerView

Command = TypeVar("Command", bound=Callable[..., Any])

EXIT_RUN_FAILED = 1
EXIT_REFUSED = 2
EXIT_UNREACHABLE = 3
EXIT_SERVER_ERROR = 4
EXIT_INTERRUPTED = 130

WORKER_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
GUNICORN_THREADS = 32  # threads, not processes: every open SSE stream holds one for as long as it lasts
GUNICORN_WORKERS = 2
# The run page says canceled within 10 s; --wait allows for a slow grace period on top.
CANCEL_WAIT_SECONDS = 60
GUNICORN_GRACEFUL_SECONDS = 10  # SSE streams never end by themselves; clients reconnect after a restart
HOST_SUMMARY_COLUMNS = ("ok", "changed", "failed", "unreachable", "skipped", "rescued", "ignored")
DRAIN_POLL_SECONDS = 1.0
# A drained worker records "stopped" just before its process exits; this bounds the wait for the exit.
LOCAL_EXIT_WAIT_SECONDS = 30
UNAUTHENTICATED_HINT = (
    "set PLAYDECK_TOKEN to an API token of yours (an administrator creates one: playdeck token create USER)"
)
# The user `playdeck up` creates on a fresh install, and the file its random password is left in.
FIRST_ADMIN = "admin"
ADMIN_PASSWORD_FILE = "admin-password"


class CommandFailed(click.ClickException):
    """A message for stderr and an exit code, instead of a traceback."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class PlaydeckGroup(click.Group):
    """Turns the errors a user can cause into a message and an exit code, for every subcommand."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ApiUnreachable as exc:
            raise CommandFailed(exc.message, EXIT_UNREACHABLE) from None
        except ApiError as exc:
            code = EXIT_REFUSED if exc.status_code < 500 else EXIT_SERVER_ERROR
            message = f"the API answered {exc.status_code}: {exc.message}"
            if exc.status_code == 401:
                message += f"; {UNAUTHENTICATED_HINT}"
            raise CommandFailed(message, code) from None
        except PlaydeckError as exc:
            raise CommandFailed(exc.message, EXIT_REFUSED) from None
        except OSError as exc:
            raise CommandFailed(str(exc), EXIT_RUN_FAILED) from None


@click.group(cls=PlaydeckGroup)
def cli() -> None:
    """Playdeck: deploy with Ansible from a web UI, an API or this command."""
    # Before anything is created: web, worker and reaper exec from here and keep it (playdeck.private_files).
    private_files.restrict_umask()


def main() -> None:
    cli(prog_name="playdeck")


# --- input parsing --------------------------------------------------------------------------------


def parse_extra_vars(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dict[str, Any]:
    """A JSON object, or ``@FILE`` holding one in JSON or YAML (as ansible-playbook's -e accepts)."""
    if value is None:
        return {}
    if value.startswith("@"):
        import yaml

        path = Path(value[1:]).expanduser()
        try:
            parsed = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise click.BadParameter(f"cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise click.BadParameter(f"{path} is neither JSON nor YAML: {exc}") from None
    else:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f'not valid JSON ({exc}); use \'{{"name": "value"}}\' or @FILE') from None
    if not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object of variable names to values")
    return parsed


def split_list(_ctx: click.Context, _param: click.Parameter, value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def parse_queues(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    from playdeck.environments import QUEUE_RE
    from playdeck.taskqueue import QUEUES

    # Any queue name: an environment may be routed to its own (`playdeck env set ... --queue dc2`).
    queues = split_list(ctx, param, value)
    bad = [queue for queue in queues if not QUEUE_RE.fullmatch(queue)]
    if not queues or bad:
        raise click.BadParameter(
            f"comma-separated queue names of letters, digits and _ . - (the defaults: {', '.join(QUEUES)})"
        )
    return queues


def parse_bind(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"'{value}' is not HOST:PORT")
    return value


def default_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (containers)
        return "cli"


def retired_user_option(command: Command) -> Command:
    """``--user`` once named the requester; the API now records the token's user, so a script still
    passing it is told so instead of the name being silently dropped."""

    def refuse(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            raise click.UsageError("--user is gone: the API records the user whose token (PLAYDECK_TOKEN) asks")

    return click.option("--user", hidden=True, expose_value=False, callback=refuse)(command)


# --- output ---------------------------------------------------------------------------------------


def format_table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(value) for value in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def describe_run(run: dict[str, Any]) -> str:
    parts = [f"rc {run['rc']}" if run.get("rc") is not None else "", duration(run.get("duration_seconds"))]
    details = ", ".join(part for part in parts if part)
    line = f"Run {run['id']} {run['state']}" + (f" ({details})" if details else "")
    return line + (f": {run['reason']}" if run.get("reason") else "")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def host_summary_table(run: dict[str, Any]) -> str:
    summaries = run.get("host_summaries") or []
    if not summaries:
        return "(no host summary: the playbook did not get to its recap)"
    headers = ["HOST", *(column.upper() for column in HOST_SUMMARY_COLUMNS)]
    return format_table(headers, [[s["host"], *(s.get(c, 0) for c in HOST_SUMMARY_COLUMNS)] for s in summaries])


# --- API commands ---------------------------------------------------------------------------------


def api_client() -> PlaydeckApi:
    settings = get_settings()
    return PlaydeckApi(settings.api_url, configured_token(settings))


@cli.command()
@click.argument("project")
@click.option("--env", "environment", required=True, help="Environment of the project, e.g. staging.")
@click.option("--version", default="", help="Version to deploy (the playbook's default if empty).")
@click.option("--extra-vars", callback=parse_extra_vars, metavar="JSON|@FILE", help="Extra variables for the playbook.")
@click.option("--limit", default="", metavar="PATTERN", help="Only these hosts (Ansible host pattern).")
@click.option("--tags", callback=split_list, metavar="A,B", help="Only tasks with these tags.")
@click.option("--check", is_flag=True, help="Dry run: Ansible check mode, nothing is changed.")
@retired_user_option
@click.option("--wait", is_flag=True, help="Follow the log; exit 0 only if the run succeeds.")
def deploy(
    project: str,
    environment: str,
    version: str,
    extra_vars: dict[str, Any],
    limit: str,
    tags: list[str],
    check: bool,
    wait: bool,
) -> None:
    """Queue a deploy of PROJECT to an environment (through the API, as the user of PLAYDECK_TOKEN)."""
    api = api_client()
    run = api.create_run(
        {
            "project": project,
            "environment": environment,
            "version": version,
            "extra_vars": extra_vars,
            "limit": limit,
            "tags": tags,
            "check": check,
        }
    )
    announce_queued(api, run, wait)


def announce_queued(api: PlaydeckApi, run: dict[str, Any], wait: bool) -> None:
    """Say where the queued run can be watched; with ``wait``, follow it and exit 0 only if it succeeds."""
    click.echo(f"Run {run['id']} {run['state']}: {api.run_page_url(run['id'])}")
    if not wait:
        return
    try:
        final = follow_run(api, run["id"])
    except KeyboardInterrupt:
        click.echo(f"\nStopped following; run {run['id']} goes on: {api.run_page_url(run['id'])}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    click.echo(describe_run(final))
    click.echo(host_summary_table(final))
    sys.exit(0 if final["state"] == "successful" else EXIT_RUN_FAILED)


def follow_run(api: PlaydeckApi, run_id: int) -> dict[str, Any]:
    """Print the run's output as it arrives, with a progress line on stderr; return the finished run."""
    try:
        progress = ProgressDisplay.for_run(api.get_progress(run_id))
    except ApiError:  # a server without the progress endpoint: follow the log all the same
        progress = ProgressDisplay(expected=None, previous_seconds=None)
    for sse in api.follow_run(run_id):
        if sse.event == "run_event":
            event = sse.json()
            if event.get("stdout"):
                progress.before_output()
                click.echo(event["stdout"])
            progress.event(event)
            progress.draw()
        elif sse.event == "state":
            state = sse.json().get("state")
            progress.before_output()
            click.echo(f"-- run {run_id}: {state}", err=True)
            if state == "running":
                progress.running()
            progress.draw()
        elif sse.event == "end":
            final = sse.json()
            progress.finish(final.get("state") == "successful")
            # The end frame normally carries the host summaries; if not, ask for the full run.
            return final if "host_summaries" in final else api.get_run(run_id)
    raise ApiUnreachable(f"the stream of run {run_id} ended without its final event")


@cli.command()
@click.option("--project", default=None, help="Only runs of this project.")
@click.option("--env", "environment", default=None, help="Only runs in this environment.")
@click.option("--state", default=None, metavar="STATE[,STATE]", help="Only runs in these states.")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
def runs(project: str | None, environment: str | None, state: str | None, page: int) -> None:
    """List runs, newest first (through the API)."""
    listing = api_client().list_runs({"project": project, "environment": environment, "state": state, "page": page})
    rows = [
        [
            run["id"],
            run["state"],
            run["project"],
            run["environment"],
            run["version"] or "-",
            run["requested_by"],
            (run["queued_at"] or "")[:19].replace("T", " "),
            duration(run.get("duration_seconds")) or "-",
        ]
        for run in listing["runs"]
    ]
    if not rows:
        click.echo("No runs." if page == 1 else f"No runs on page {page}.")
        return
    headers = ["ID", "STATE", "PROJECT", "ENV", "VERSION", "BY", "QUEUED (UTC)", "DURATION"]
    click.echo(format_table(headers, rows))
    if listing.get("has_next"):
        click.echo(f"More: --page {page + 1}")


@cli.command()
@click.argument("run_id", type=click.IntRange(min=1))
@retired_user_option
@click.option("--wait", is_flag=True, help="Wait until every process of the run has stopped.")
@click.option("--force", is_flag=True, help="Record it canceled now, for a run whose worker has vanished.")
def cancel(run_id: int, wait: bool, force: bool) -> None:
    """Cancel a run: a queued one never starts, a running one has its whole process tree stopped.

    Exits 0 once canceled (or, without --wait, once the cancel is accepted); 2 if the run had already
    ended.
    """
    api = api_client()
    run = api.cancel_run(run_id, force)
    if wait:
        deadline = time.monotonic() + CANCEL_WAIT_SECONDS
        while not run["terminal"] and time.monotonic() < deadline:
            time.sleep(0.5)
            run = api.get_run(run_id)
    if run["terminal"]:
        click.echo(describe_run(run))
        if run["state"] != "canceled":
            raise CommandFailed(f"run {run_id} ended {run['state']} before the cancel took effect", EXIT_RUN_FAILED)
    else:
        click.echo(f"Run {run_id}: cancel requested; its worker is stopping every process of the run.")
        if wait:
            raise CommandFailed(f"run {run_id} is still {run['state']} after {CANCEL_WAIT_SECONDS} s", EXIT_RUN_FAILED)


@cli.command()
@click.argument("run_id", type=click.IntRange(min=1))
@click.option("--failed", is_flag=True, help="Only on the hosts that failed or were unreachable.")
@retired_user_option
@click.option("--wait", is_flag=True, help="Follow the log; exit 0 only if the new run succeeds.")
def relaunch(run_id: int, failed: bool, wait: bool) -> None:
    """Queue a new run with the parameters of a finished run RUN_ID (through the API).

    Exits 2 if the run is still queued or running, or with --failed if no host failed.
    """
    api = api_client()
    run = api.relaunch_run(run_id, "failed" if failed else "all")
    if failed:
        click.echo(f"Relaunch of run {run_id} on {run['limit']}")
    announce_queued(api, run, wait)


# --- local services -------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """The database schema (works on PLAYDECK_DATABASE_URL directly, not through the API)."""


@db.command()
@click.option("--no-sample", is_flag=True, help="Do not register the sample project on an empty install.")
def upgrade(no_sample: bool) -> None:
    """Create or upgrade the schema, and register the sample project on an empty install."""
    upgrade_database(with_sample=not no_sample)


def upgrade_database(with_sample: bool) -> None:
    # Imported here: `playdeck deploy` should not pay for SQLAlchemy and Alembic.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from playdeck import migrate
    from playdeck.db import session_scope
    from playdeck.projects import ensure_sample_project

    settings = get_settings()
    private_files.ensure_private_dir(settings.data_dir)
    shown_url = make_url(settings.database_url).render_as_string(hide_password=True)
    try:
        migrate.upgrade()
        sample = None
        if with_sample:
            with session_scope() as session:
                sample = ensure_sample_project(session)
                sample_envs = ", ".join(sorted(env.name for env in sample.environments)) if sample else ""
    except SQLAlchemyError as exc:
        reason = str(exc.orig if getattr(exc, "orig", None) is not None else exc).splitlines()[0]
        raise CommandFailed(f"cannot upgrade the database {shown_url}: {reason}", EXIT_RUN_FAILED) from None
    click.echo(f"Database {shown_url}: schema is up to date.")
    if sample is not None:
        click.echo(f"Registered the sample project '{sample.name}' ({sample_envs}).")


@db.command()
@click.option(
    "--older-than-days",
    type=click.IntRange(min=1),
    required=True,
    help="Delete ended runs queued more than this many days ago, with their events.",
)
@click.option(
    "--pause-seconds",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Pause between delete transactions (leaves a busy DB to the live system).",
)
def purge(older_than_days: int, pause_seconds: float) -> None:
    """Delete old ended runs and their events in small transactions (queued and running runs stay)."""
    from playdeck.models import utcnow
    from playdeck.purge import purge_runs

    with database_errors():
        report = purge_runs(utcnow() - dt.timedelta(days=older_than_days), pause_seconds=pause_seconds)
    click.echo(
        f"Purged {report.runs} runs and {report.events} events in {report.transactions} transactions "
        f"(longest {report.longest_transaction_seconds:.2f} s)."
    )


@cli.command()
def reaper() -> NoReturn:
    """Run the reaper in the foreground: lost runs recorded, forgotten queued runs sent again."""
    import logging

    from playdeck.reaper import run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_forever()
    raise SystemExit(0)  # run_forever does not return


@cli.group()
def project() -> None:
    """Projects' run limits and deploy policies (works on PLAYDECK_DATABASE_URL directly)."""


@project.command("set")
@click.argument("name")
@click.option("--run-timeout", type=click.IntRange(min=1), help="Seconds before a run is stopped (timeout).")
@click.option(
    "--idle-timeout",
    type=click.IntRange(min=0),
    help="Seconds without output before a run is stopped (0: off).",
)
@click.option("--lock-deploys/--no-lock-deploys", default=None, help="At most one running deploy per environment.")
@click.option("--supersede/--no-supersede", default=None, help="A newer queued run cancels older waiting ones.")
@click.option(
    "--retry-lost",
    type=click.IntRange(min=0),
    help="Times a run lost with its worker is started again automatically, as a new run (0: off).",
)
@click.option(
    "--free-extra-vars/--no-free-extra-vars",
    default=None,
    help="With a launch form: also take variables it does not declare (GET /api/v1/projects/NAME/launch-form).",
)
def project_set(
    name: str,
    run_timeout: int | None,
    idle_timeout: int | None,
    lock_deploys: bool | None,
    supersede: bool | None,
    retry_lost: int | None,
    free_extra_vars: bool | None,
) -> None:
    """Change NAME's limits and policies; prints the project's settings."""
    from playdeck.projects import set_options
    from playdeck.serializers import project_json

    chosen = {
        "run_timeout_seconds": run_timeout,
        "idle_timeout_seconds": idle_timeout,
        "lock_deploys": lock_deploys,
        "supersede_queued": supersede,
        "retry_lost_runs": retry_lost,
        "allow_free_extra_vars": free_extra_vars,
    }
    with shell_session() as session:
        shown = project_json(set_options(session, name, **{k: v for k, v in chosen.items() if v is not None}))
    click.echo(json.dumps({key: shown[key] for key in chosen}, indent=2))


@cli.group("env")
def environment_group() -> None:
    """Environments' queue routing and SSH known hosts (works on PLAYDECK_DATABASE_URL directly)."""


@environment_group.command("set")
@click.argument("project_name", metavar="PROJECT")
@click.argument("environment", metavar="ENV")
@click.option("--queue", default=None, help="Send the environment's runs to this queue (workers --queues it).")
@click.option("--default-queue", is_flag=True, help="Send them to the default queue again.")
@click.option(
    "--known-hosts-file",
    type=click.File("r"),
    default=None,
    help="Replace the host keys its SSH targets must present (known_hosts format; - for stdin).",
)
def environment_set(
    project_name: str, environment: str, queue: str | None, default_queue: bool, known_hosts_file: Any
) -> None:
    """Route ENV's runs to a queue and/or set its SSH known hosts; prints the environment's settings."""
    from playdeck import environments

    if queue is not None and default_queue:
        raise click.UsageError("--queue and --default-queue exclude each other")
    changes: dict[str, Any] = {}
    if queue is not None or default_queue:
        changes["queue"] = queue
    if known_hosts_file is not None:
        changes["known_hosts"] = known_hosts_file.read()
    if not changes:
        raise click.UsageError("nothing to change: give --queue, --default-queue or --known-hosts-file")
    with shell_session() as session:
        shown = environments.set_options(session, project_name, environment, **changes)
    click.echo(json.dumps(shown.as_json(), indent=2))


@environment_group.command("show")
@click.argument("project_name", metavar="PROJECT")
@click.argument("environment", metavar="ENV")
@click.option("--known-hosts", "print_known_hosts", is_flag=True, help="Print the known_hosts lines instead.")
def environment_show(project_name: str, environment: str, print_known_hosts: bool) -> None:
    """ENV's queue and known hosts."""
    from playdeck import environments, projects

    with shell_session() as session:
        if print_known_hosts:
            env = projects.get_environment(projects.get_project(session, project_name), environment)
            click.echo(env.known_hosts, nl=False)
            return
        shown = environments.get(session, project_name, environment)
    click.echo(json.dumps(shown.as_json(), indent=2))


# --- workers (DB-direct, like `project`) ----------------------------------------------------------


@contextmanager
def database_errors() -> Iterator[None]:
    """A database that cannot be used is a message and exit 1, not a traceback."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        shown_url = make_url(get_settings().database_url).render_as_string(hide_password=True)
        reason = str(exc.orig if getattr(exc, "orig", None) is not None else exc).splitlines()[0]
        raise CommandFailed(f"cannot use the database {shown_url}: {reason}", EXIT_RUN_FAILED) from None


@contextmanager
def shell_session() -> Iterator[Session]:
    """A session for a DB-direct command: a database that cannot be used is a message, and the changes
    are audited as the login name of whoever runs the command, from "cli"."""
    from playdeck import audit
    from playdeck.db import session_scope

    with database_errors(), audit.acting_as(default_user(), "cli"), session_scope() as session:
        yield session


def utc_text(value: dt.datetime | None) -> str:
    return "-" if value is None else value.isoformat(sep=" ", timespec="seconds")


def executing_text(worker: WorkerView) -> str:
    runs = worker.runs
    return ", ".join(f"{run.id} {run.project}/{run.environment} for {duration(run.duration_seconds)}" for run in runs)


def worker_row(worker: WorkerView) -> list[Any]:
    return [
        worker.id,
        worker.name,
        worker.hostname,
        worker.pid,
        ",".join(worker.queues),
        worker.concurrency,
        worker.state,
        utc_text(worker.started_at),
        # Clocks of different hosts may disagree a little: never "-0.3 s ago".
        f"{duration(max(worker.heartbeat_age(), 0.0))} ago",
        executing_text(worker) or "-",
    ]


@cli.command("workers")
@click.option("--all", "include_stopped", is_flag=True, help="Also stopped workers, and those gone for long.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def list_workers(include_stopped: bool, as_json: bool) -> None:
    """List the Celery workers and the runs each is executing (reads PLAYDECK_DATABASE_URL directly).

    STATE: active; draining (takes no new runs, exits once its running runs end); stopped; gone (no
    heartbeat for 3 beats: it died without stopping, and the reaper records its runs lost).
    """
    from playdeck import workers

    with shell_session() as session:
        listed = workers.list_workers(session, include_stopped)
    if as_json:
        click.echo(json.dumps([worker.as_json() for worker in listed], indent=2))
    elif listed:
        headers = ["ID", "NAME", "HOST", "PID", "QUEUES", "CONC", "STATE", "STARTED (UTC)", "HEARTBEAT", "RUNNING"]
        click.echo(format_table(headers, [worker_row(worker) for worker in listed]))
    else:
        click.echo("No workers." if include_stopped else "No live workers (--all includes stopped ones).")


@cli.command()
@click.argument("reference", metavar="[WORKER]", required=False)
@click.option("--host", default=None, help="Every live worker on this host, instead of WORKER.")
@click.option("--all", "every", is_flag=True, help="Every live worker, instead of WORKER.")
@click.option("--user", default=default_user, show_default="your login name", help="Recorded as who asked.")
@click.option("--wait", is_flag=True, help="Wait until the worker has stopped, printing its progress.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="With --wait: exit 1 if it has not stopped by then [default: no limit].",
)
def drain(reference: str | None, host: str | None, every: bool, user: str, wait: bool, timeout: float | None) -> None:
    """Stop WORKER taking new runs; it exits (status 0) once its running runs have ended.

    WORKER is an id or a name from `playdeck workers`: deploy@web1, or deploy when one live worker
    has that name. Runs queued meanwhile wait in the broker for another worker, or for this one once
    it is started again; under supervisord a drained worker stays stopped until `supervisorctl start`.
    Exits 0 once asked (with --wait: once stopped), 1 if it did not stop in time or died, 2 if there
    is no such worker or it is gone. Works on PLAYDECK_DATABASE_URL directly.
    """
    if sum((reference is not None, host is not None, every)) != 1:
        raise click.UsageError("name one WORKER, or use --host HOST or --all")
    if timeout is not None and not wait:
        raise click.UsageError("--timeout goes with --wait")
    from playdeck import workers

    with shell_session() as session:
        outcomes = workers.request_drain(session, workers.select_workers(session, reference, host, every), user)
    for outcome in outcomes:
        click.echo(describe_drain(outcome))
    if wait:
        wait_until_drained([outcome.worker.id for outcome in outcomes], timeout)


def describe_drain(outcome: DrainOutcome) -> str:
    from playdeck.workers import WorkerState

    worker = outcome.worker
    if worker.state == WorkerState.STOPPED:
        return f"{worker.label} has already stopped (at {utc_text(worker.stopped_at)} UTC)."
    asked = f"asked by {worker.drain_requested_by} at {utc_text(worker.drain_requested_at)} UTC"
    line = f"{worker.label}: {'draining' if outcome.requested_now else 'already draining'}, {asked}"
    if worker.runs:
        return f"{line}; it takes no new runs and exits once these end: {executing_text(worker)}."
    return f"{line}; it takes no new runs and exits within seconds (nothing running)."


def wait_until_drained(worker_ids: list[int], timeout: float | None) -> None:
    """Print each worker's progress as it changes until all have stopped; fail if one is gone or time is up."""
    from playdeck import workers

    deadline = None if timeout is None else time.monotonic() + timeout
    shown: dict[int, tuple[str, tuple[int, ...]]] = {}
    try:
        while True:
            with shell_session() as session:
                views = workers.get_workers(session, worker_ids)
            for view in views:
                progress = (view.state, tuple(run.id for run in view.runs))
                if shown.get(view.id) != progress:
                    shown[view.id] = progress
                    running = f", running {executing_text(view)}" if view.runs else ""
                    click.echo(f"{view.label}: {view.state}{running}")
            for view in views:
                if view.state == workers.WorkerState.GONE:
                    raise CommandFailed(
                        f"{view.label} is gone before it stopped (no heartbeat for {view.heartbeat_age():.0f} s); "
                        "the reaper records its runs lost",
                        EXIT_RUN_FAILED,
                    )
            draining = [view for view in views if view.state != workers.WorkerState.STOPPED]
            if not draining:
                break
            if deadline is not None and time.monotonic() > deadline:
                labels = ", ".join(view.label for view in draining)
                raise CommandFailed(
                    f"{labels} still draining after {timeout:g} s; the drain goes on (`playdeck workers` shows it)",
                    EXIT_RUN_FAILED,
                )
            time.sleep(DRAIN_POLL_SECONDS)
        wait_for_local_exit(views)
    except KeyboardInterrupt:
        click.echo("\nStopped waiting; the drain goes on (`playdeck workers` shows it).", err=True)
        sys.exit(EXIT_INTERRUPTED)
    click.echo("Drained. Start the worker again when you are ready (under supervisord: `supervisorctl start`).")


def wait_for_local_exit(stopped: list[WorkerView]) -> None:
    """A worker records "stopped" just before its process exits; when it ran on this host, wait for
    the exit too, so that a `supervisorctl start` right after this command finds the program stopped."""
    import psutil

    deadline = time.monotonic() + LOCAL_EXIT_WAIT_SECONDS
    for worker in stopped:
        if worker.hostname != socket.gethostname():
            continue
        while time.monotonic() < deadline:
            try:
                if psutil.Process(worker.pid).status() == psutil.STATUS_ZOMBIE:
                    break  # exited; only its parent's reaping is left
            except psutil.Error:  # gone, or not ours to read: nothing to wait for
                break
            time.sleep(0.1)


# --- users and API tokens (DB-direct, like `project`) ---------------------------------------------

ROLE_CHOICE = click.Choice([role.value for role in Role])


def secret_input(prompt: str) -> str:
    """A secret from the terminal without echo, or the whole of stdin when piped (never from argv)."""
    return getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.read()


def read_password(name: str) -> str:
    """One line of stdin when it is not a terminal (`printf '%s\\n' "$PW" | playdeck user add …`), else
    asked for twice without echo."""
    if not sys.stdin.isatty():
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            raise CommandFailed("no password on stdin: give it as one line", EXIT_REFUSED)
        return password
    password = getpass.getpass(f"Password for {name}: ")
    if getpass.getpass("Once more: ") != password:
        raise CommandFailed("the two passwords differ; nothing was changed", EXIT_REFUSED)
    return password


def project_names(session: Session) -> dict[int, str]:
    from sqlalchemy import select

    from playdeck.models import Project

    return dict(session.execute(select(Project.id, Project.name)).tuples().all())


def user_row(user: User, projects: dict[int, str]) -> list[str]:
    return [
        user.name,
        user.role,
        "yes" if user.active else "no",
        ",".join(sorted(projects[member.project_id] for member in user.projects)) or "-",
        ",".join(sorted(grant.zone for grant in user.zones)) or "-",
    ]


USER_HEADERS = ["NAME", "ROLE", "ACTIVE", "PROJECTS", "ZONES"]


def show_user(session: Session, user: User) -> None:
    click.echo(format_table(USER_HEADERS, [user_row(user, project_names(session))]))


@cli.group()
def user() -> None:
    """Users, roles and grants (works on PLAYDECK_DATABASE_URL directly)."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, required=True, help="What the user may do.")
@click.option("--no-password", is_flag=True, help="No password: the user cannot log in, only use API tokens.")
def user_add(name: str, role: str, no_password: bool) -> None:
    """Create the user NAME. The password is read from stdin (one line) when it is not a terminal,
    else asked for twice."""
    from playdeck.auth import users

    password = None if no_password else read_password(name)
    with shell_session() as session:
        show_user(session, users.create_user(session, name, role, password))
    if no_password:
        click.echo(f"No password: {name} uses API tokens only (playdeck token create {name}).")


@user.command("list")
def user_list() -> None:
    """List the users with their role, whether they are active, their projects and DNS zones."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from playdeck.auth.models import User

    query = select(User).options(selectinload(User.projects), selectinload(User.zones)).order_by(User.name)
    with shell_session() as session:
        projects = project_names(session)
        rows = [user_row(listed, projects) for listed in session.scalars(query)]
    click.echo(format_table(USER_HEADERS, rows) if rows else "No users.")


@user.command("set")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, help="A new role.")
@click.option(
    "--password", "new_password", is_flag=True, help="A new password (read like `user add`); ends NAME's logins."
)
@click.option(
    "--revoke-tokens", is_flag=True, help="Revoke all of NAME's API tokens (with --password after a takeover)."
)
@click.option(
    "--active/--inactive", default=None, help="An inactive user is logged out and their tokens are revoked for good."
)
def user_set(name: str, role: str | None, new_password: bool, revoke_tokens: bool, active: bool | None) -> None:
    """Change NAME's role, password or whether they may sign in at all."""
    if role is None and not new_password and not revoke_tokens and active is None:
        raise click.UsageError("nothing to change: give --role, --password, --revoke-tokens, --active or --inactive")
    from playdeck.auth import users

    password = read_password(name) if new_password else None
    with shell_session() as session:
        changed = users.get_user(session, name)
        users.update_user(
            session, changed, role=role, active=active, password=password, revoke_all_tokens=revoke_tokens
        )
        show_user(session, changed)


@user.command("grant")
@click.argument("name")
@click.option("--project", "projects", multiple=True, help="A project NAME deploys as a developer (repeatable).")
@click.option("--zone", "zones", multiple=True, help="A DNS zone whose records NAME edits (repeatable).")
def user_grant(name: str, projects: tuple[str, ...], zones: tuple[str, ...]) -> None:
    """Make NAME a member of projects and an editor of DNS zones."""
    if not projects and not zones:
        raise click.UsageError("give --project or --zone (each repeatable)")
    from playdeck.auth import users

    with shell_session() as session:
        granted = users.get_user(session, name)
        for project_name in projects:
            users.grant_project(session, granted, project_name)
        for zone in zones:
            users.grant_zone(session, granted, zone)
        show_user(session, granted)


@cli.group()
def token() -> None:
    """Users' API tokens (works on PLAYDECK_DATABASE_URL directly)."""


@token.command("create")
@click.argument("user_name", metavar="USER")
@click.option("--name", default="", help="What the token is for, e.g. ci.")
@click.option("--expires", type=click.IntRange(min=1), metavar="DAYS", help="It stops working after DAYS days.")
def token_create(user_name: str, name: str, expires: int | None) -> None:
    """Create an API token of USER and print it, alone on stdout: TOKEN=$(playdeck token create bob).

    It is shown this once (only its hash is stored); revoke it with `playdeck token revoke ID`.
    """
    from playdeck.auth import credentials
    from playdeck.models import utcnow

    expires_at = utcnow() + dt.timedelta(days=expires) if expires else None
    with shell_session() as session:
        issued = credentials.create_token(session, user_name, name=name, expires_at=expires_at)
    click.echo(issued.token)
    until = f", valid until {utc_text(issued.expires_at)} UTC" if issued.expires_at else ""
    click.echo(f"Token {issued.id} of {issued.user}{until}: shown only now.", err=True)


@token.command("list")
@click.argument("user_name", metavar="[USER]", required=False)
def token_list(user_name: str | None) -> None:
    """List API tokens (of USER), never the tokens themselves. Times are UTC."""
    from playdeck.auth import credentials

    with shell_session() as session:
        rows = [
            [
                listed.id,
                listed.user.name,
                listed.name or "-",
                f"{listed.token_start}…" if listed.token_start else "-",
                utc_text(listed.created_at),
                utc_text(listed.expires_at),
                utc_text(listed.revoked_at),
                utc_text(listed.last_used_at),
            ]
            for listed in credentials.list_tokens(session, user_name)
        ]
    headers = ["ID", "USER", "NAME", "STARTS WITH", "CREATED", "EXPIRES", "REVOKED", "LAST USED"]
    click.echo(format_table(headers, rows) if rows else "No tokens.")


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=click.IntRange(min=1))
def token_revoke(token_id: int) -> None:
    """Revoke the token ID (`playdeck token list`): it stops working at once."""
    from playdeck.auth import credentials

    with shell_session() as session:
        credentials.revoke_token(session, token_id)
    click.echo(f"Token {token_id} revoked.")


@cli.group()
def secret() -> None:
    """Project secrets: SSH keys, become and vault passwords, encrypted with PLAYDECK_SECRET_KEY (works on
    PLAYDECK_DATABASE_URL directly)."""


SECRET_KIND = click.Choice(["ssh_key", "become_password", "vault_password"])
ENVIRONMENT_OPTION = click.option("--environment", "-e", help="One environment only (default: all of the project).")


@secret.command("set")
@click.argument("project_name", metavar="PROJECT")
@click.argument("kind", type=SECRET_KIND)
@ENVIRONMENT_OPTION
def secret_set(project_name: str, kind: str, environment: str | None) -> None:
    """Set a secret from stdin, never from the command line (it would be in the shell's history and in
    ps): `playdeck secret set app ssh_key < deploy_key`, or typed at the prompt."""
    from playdeck import secrets

    value = secret_input(f"{kind} for {project_name}: ")
    if not sys.stdin.isatty() and kind != "ssh_key":
        # A password piped with echo ends with a newline that is not part of it; a key keeps its own.
        value = value.removesuffix("\n").removesuffix("\r")
    with shell_session() as session:
        view = secrets.set_secret(session, project_name, environment, kind, value, who=default_user())
    click.echo(f"{view.kind} of {view.project} ({view.environment or 'every environment'}) set.")


@secret.command("list")
@click.argument("project_name", metavar="PROJECT")
def secret_list(project_name: str) -> None:
    """The project's secrets, masked: kind, scope, when and by whom they were set."""
    from playdeck import secrets

    with shell_session() as session:
        rows = [
            [view.kind, view.environment or "(all)", view.masked, utc_text(view.updated_at), view.updated_by]
            for view in secrets.list_secrets(session, project_name)
        ]
    headers = ["KIND", "ENVIRONMENT", "VALUE", "SET (UTC)", "BY"]
    click.echo(format_table(headers, rows) if rows else f"No secrets for {project_name}.")


@secret.command("delete")
@click.argument("project_name", metavar="PROJECT")
@click.argument("kind", type=SECRET_KIND)
@ENVIRONMENT_OPTION
def secret_delete(project_name: str, kind: str, environment: str | None) -> None:
    """Delete a secret; later runs go without it."""
    from playdeck import secrets

    with shell_session() as session:
        secrets.delete_secret(session, project_name, environment, kind, who=default_user())
    click.echo(f"{kind} of {project_name} ({environment or 'every environment'}) deleted.")


@cli.command()
@click.option("--queues", default="deploy,dns", show_default=True, callback=parse_queues, help="Queues to consume.")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Runs at the same time [default: PLAYDECK_WORKER_CONCURRENCY].",
)
@click.option("--name", default=None, help="Worker name, before @host [default: the queues].")
def worker(queues: list[str], concurrency: int | None, name: str | None) -> NoReturn:
    """Run a Celery worker (replaces this process, so signals reach Celery directly)."""
    name = name or "-".join(queues)
    if not WORKER_NAME_RE.fullmatch(name):
        raise click.BadParameter("letters, digits and _ . - only", param_hint="--name")
    concurrency = concurrency or get_settings().worker_concurrency
    exec_python_module(
        "celery",
        ["-A", "runners.celery_app", "worker", "-Q", ",".join(queues), "-c", str(concurrency)],
        # One message per process at a time, handed to whichever process is free: a long deploy never
        # holds a second one back.
        ["--prefetch-multiplier", "1", "-O", "fair"],
        # The filesystem broker of the embedded default has no broadcast channel for these.
        ["--without-gossip", "--without-mingle"],
        ["-n", f"{name}@%h", "--loglevel", "INFO"],
    )


@cli.command()
@click.option("--bind", callback=parse_bind, metavar="HOST:PORT", help="[default: PLAYDECK_WEB_HOST:PLAYDECK_WEB_PORT]")
def web(bind: str | None) -> NoReturn:
    """Run the web UI and API under gunicorn (replaces this process)."""
    settings = get_settings()
    exec_python_module(
        "gunicorn",
        ["webui.wsgi:app", "--bind", bind or f"{settings.web_host}:{settings.web_port}"],
        # Threads, not processes, per request: every open SSE stream holds one for as long as it lasts.
        ["-k", "gthread", "--threads", str(GUNICORN_THREADS), "-w", str(GUNICORN_WORKERS)],
        # One listening socket per process: the kernel spreads new connections over them. With one shared
        # socket, the process that wakes first takes most of a burst, and a keep-alive connection stays
        # where it was accepted (issue 7: 17/2/1 connections over 4 processes).
        ["--reuse-port"],
        ["--graceful-timeout", str(GUNICORN_GRACEFUL_SECONDS), "--access-logfile", "-"],
    )


@cli.command()
def up() -> NoReturn:
    """Run everything in the foreground under supervisord: web UI, a deploy worker and a DNS worker."""
    from playdeck.cli import supervisor

    settings = get_settings()
    upgrade_database(with_sample=True)
    ensure_port_free(settings.web_host, settings.web_port)
    create_first_admin(settings)
    config = supervisor.write_config(settings)
    os.environ.update(supervisor.program_environment(settings))
    click.echo(f"Playdeck UI: {settings.api_url}/")
    click.echo(f"Logs: {supervisor.SupervisorLayout.for_settings(settings).log_dir}")
    click.echo(f"Status: supervisorctl -c {config} status    Stop: Ctrl-C")
    exec_argv(supervisor.supervisord_argv(config))


def create_first_admin(settings: Settings) -> None:
    """On a fresh install (no users): the user admin with a random password, shown once and left in
    <data_dir>/admin-password, and a token of theirs in <data_dir>/cli-token, which this machine's
    `playdeck` uses while PLAYDECK_TOKEN is unset — so the UI and the CLI work right after `scripts/up`."""
    from playdeck.auth import credentials, users

    password_file = settings.data_dir / ADMIN_PASSWORD_FILE
    with shell_session() as session:
        password = users.ensure_admin(session, FIRST_ADMIN)
        if password is None:
            return
        issued = credentials.create_token(session, FIRST_ADMIN, name="playdeck up: this machine's CLI")
        # Written before the commit: if a file cannot be written, no admin exists whose password is lost.
        write_secret(password_file, password)
        write_secret(cli_token_path(settings), issued.token)
    click.echo(f"First start: created the administrator {FIRST_ADMIN}.")
    click.echo(f"  Log in at {settings.api_url}/login as {FIRST_ADMIN} with password {password}")
    click.echo(f"  (also in {password_file}, readable by you only;")
    click.echo(f"  change it with: playdeck user set {FIRST_ADMIN} --password)")
    click.echo(f"  This machine's playdeck command uses {FIRST_ADMIN}'s API token in {cli_token_path(settings)}")
    click.echo("  while PLAYDECK_TOKEN is unset.")


def write_secret(path: Path, value: str) -> None:
    """A file only its owner may read, from the moment it exists (never briefly world-readable)."""
    staging = path.with_name(f"{path.name}.tmp")
    staging.unlink(missing_ok=True)
    with os.fdopen(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(f"{value}\n")
    staging.replace(path)


def ensure_port_free(host: str, port: int) -> None:
    """Fail now with a clear message rather than leave gunicorn failing in a supervisord log."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CommandFailed(
                f"cannot listen on {host}:{port} ({exc.strerror}); is Playdeck already up? "
                "Set PLAYDECK_WEB_PORT for another port.",
                EXIT_RUN_FAILED,
            ) from None


def exec_python_module(module: str, *argument_groups: list[str]) -> NoReturn:
    argv = [sys.executable, "-m", module]
    for group in argument_groups:
        argv.extend(group)
    exec_argv(argv)


def exec_argv(argv: list[str]) -> NoReturn:
    # exec, not a subprocess: supervisord's signals then reach gunicorn or Celery itself.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)


@cli.group()
def webhook() -> None:
    """A project's webhooks: a POST to a URL when a run starts or ends (directly on the database)."""


@webhook.command("add")
@click.argument("project_name", metavar="PROJECT")
@click.argument("url")
@click.option("--format", "format_", type=click.Choice(["json", "slack"]), default="json", show_default=True)
@click.option(
    "--events", callback=split_list, metavar="A,B", help="started,succeeded,failed,canceled,timeout,lost (default all)."
)
@click.option("--signed", is_flag=True, help="Sign each POST (X-Playdeck-Signature); the secret is read from stdin.")
@click.option("--inactive", is_flag=True, help="Add it paused.")
def webhook_add(project_name: str, url: str, format_: str, events: list[str], signed: bool, inactive: bool) -> None:
    """Add a webhook; `playdeck webhook add app https://hooks.slack.com/... --format slack --events failed,lost`."""
    from playdeck import webhooks

    secret = ""
    if signed:
        secret = secret_input("webhook secret: ").strip()
        if not secret:
            raise CommandFailed("--signed needs a secret on stdin", EXIT_REFUSED)
    with shell_session() as session:
        view = webhooks.create_webhook(
            session, project_name, url, format=format_, events=events or None, secret=secret, active=not inactive,
            who=default_user(),
        )  # fmt: skip
    click.echo(f"Webhook {view.id} of {view.project} added: {', '.join(view.events)} as {view.format}.")


@webhook.command("list")
@click.argument("project_name", metavar="PROJECT")
def webhook_list(project_name: str) -> None:
    """The project's webhooks."""
    from playdeck import webhooks

    with shell_session() as session:
        rows = [
            [view.id, view.url, view.format, ",".join(view.events), "yes" if view.signed else "no",
             "active" if view.active else "paused"]
            for view in webhooks.list_webhooks(session, project_name)
        ]  # fmt: skip
    if not rows:
        click.echo(f"No webhooks for {project_name}.")
        return
    click.echo(format_table(["ID", "URL", "FORMAT", "EVENTS", "SIGNED", "STATE"], rows))


@webhook.command("remove")
@click.argument("project_name", metavar="PROJECT")
@click.argument("webhook_id", type=click.IntRange(min=1))
def webhook_remove(project_name: str, webhook_id: int) -> None:
    """Delete a webhook and its delivery log."""
    from playdeck import webhooks

    with shell_session() as session:
        webhooks.delete_webhook(session, project_name, webhook_id, who=default_user())
    click.echo(f"Webhook {webhook_id} of {project_name} removed.")
