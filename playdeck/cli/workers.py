"""The Celery workers, on the database directly: ``workers`` lists them with the runs they execute,
``drain`` stops one taking new runs (and with ``--wait`` follows it until it has stopped).
"""

from __future__ import annotations

import json
import socket
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from playdeck.cli.common import EXIT_INTERRUPTED, EXIT_RUN_FAILED, CommandFailed, default_user, shell_session
from playdeck.cli.output import duration, format_table, utc_text

if TYPE_CHECKING:
    from playdeck.workers import DrainOutcome, WorkerView

DRAIN_POLL_SECONDS = 1.0
# A drained worker records "stopped" just before its process exits; this bounds the wait for the exit.
LOCAL_EXIT_WAIT_SECONDS = 30


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


@click.command("workers")
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


@click.command()
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


# What playdeck.cli adds to the `playdeck` group.
COMMANDS = (list_workers, drain)
