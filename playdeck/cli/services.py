"""The local services: ``db upgrade``/``db purge``, ``web`` (gunicorn), ``worker`` (Celery), ``reaper``, and
``up``, which runs them all under supervisord (``playdeck.cli.supervisor``) after creating the first admin.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import sys
from pathlib import Path
from typing import NoReturn

import click

from playdeck import private_files
from playdeck.cli.apiclient import cli_token_path
from playdeck.cli.common import EXIT_RUN_FAILED, CommandFailed, database_errors, shell_session, split_list
from playdeck.settings import Settings, get_settings

WORKER_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Threads, not processes: every open SSE stream holds one for as long as it lasts, and each browser holds
# one stream (webui.live). With 32, 200 browsers left 71 streams unserved (bench/watchers.py). gthread
# starts threads as connections need them, so an idle process does not pay for the count.
GUNICORN_THREADS = 256
GUNICORN_WORKERS = 2
GUNICORN_GRACEFUL_SECONDS = 10  # SSE streams never end by themselves; clients reconnect after a restart
# The user `playdeck up` creates on a fresh install, and the file its random password is left in.
FIRST_ADMIN = "admin"
ADMIN_PASSWORD_FILE = "admin-password"
SECRET_KEY_FILE = "secret-key"


def parse_queues(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    from playdeck.environments import QUEUE_RE
    from playdeck.runs.taskqueue import QUEUES

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


@click.group()
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
    from playdeck.runs.purge import purge_runs

    with database_errors():
        report = purge_runs(utcnow() - dt.timedelta(days=older_than_days), pause_seconds=pause_seconds)
    click.echo(
        f"Purged {report.runs} runs and {report.events} events in {report.transactions} transactions "
        f"(longest {report.longest_transaction_seconds:.2f} s)."
    )


@click.command()
def reaper() -> NoReturn:
    """Run the reaper in the foreground: every domain's periodic duties (lost runs, forgotten queued runs,
    DNS zones, purge, webhooks)."""
    import logging

    from playdeck.reaper import run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_forever()
    raise SystemExit(0)  # run_forever does not return


@click.command()
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


@click.command()
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


@click.command()
def up() -> NoReturn:
    """Run everything in the foreground under supervisord: web UI, a deploy worker and a DNS worker."""
    from playdeck.cli import supervisor

    upgrade_database(with_sample=True)
    settings = ensure_secret_key(get_settings())
    ensure_port_free(settings.web_host, settings.web_port)
    create_first_admin(settings)
    config = supervisor.write_config(settings)
    os.environ.update(supervisor.program_environment(settings))
    click.echo(f"Playdeck UI: {settings.api_url}/")
    click.echo(f"Logs: {supervisor.SupervisorLayout.for_settings(settings).log_dir}")
    click.echo(f"Status: supervisorctl -c {config} status    Stop: Ctrl-C")
    exec_argv(supervisor.supervisord_argv(config))


def ensure_secret_key(settings: Settings) -> Settings:
    """Without a configured secrets key, `playdeck up` makes one on first start in <data_dir>/secret-key (0600)
    and every process it starts reads it (PLAYDECK_SECRET_KEY_FILE): the quick start can then store SSH keys
    and passwords, which without a key are refused (503)."""
    if settings.secret_key or settings.secret_key_file:
        return settings
    from cryptography.fernet import Fernet

    path = settings.data_dir / SECRET_KEY_FILE
    if not path.exists():
        write_secret(path, Fernet.generate_key().decode())
        click.echo(f"First start: created the secrets key in {path} (readable by you only).")
        click.echo("  Stored secrets cannot be read without it: back it up with the database.")
    # Inherited by supervisord and so by every program it runs.
    os.environ["PLAYDECK_SECRET_KEY_FILE"] = str(path)
    get_settings.cache_clear()
    return get_settings()


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


# What playdeck.cli adds to the `playdeck` group.
COMMANDS = (db, reaper, worker, web, up)
