"""Runs, through the JSON API: ``deploy``, ``runs``, ``cancel``, ``relaunch``, ``rollback``, ``promote``,
``approve`` and ``reject``; with ``--wait``, the run's live log and a progress line (``playdeck.cli.progress``)
until it ends (a run awaiting approval is waited for too, until it is approved and ends, or is rejected or
expires).

They go through the API (``playdeck.cli.apiclient``), not the database, so a run started from a terminal
is validated, recorded and dispatched exactly like one started in the UI, as the token's user.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from playdeck.cli.apiclient import ApiError, ApiUnreachable, PlaydeckApi, configured_token
from playdeck.cli.common import EXIT_INTERRUPTED, EXIT_RUN_FAILED, CommandFailed, split_list
from playdeck.cli.output import duration, format_table
from playdeck.cli.progress import ProgressDisplay
from playdeck.commit_label import source_label
from playdeck.runs import failure_summary
from playdeck.settings import get_settings

Command = TypeVar("Command", bound=Callable[..., Any])

# The run page says canceled within 10 s; --wait allows for a slow grace period on top.
CANCEL_WAIT_SECONDS = 60
HOST_SUMMARY_COLUMNS = ("ok", "changed", "failed", "unreachable", "skipped", "rescued", "ignored")


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


def retired_user_option(command: Command) -> Command:
    """``--user`` once named the requester; the API now records the token's user, so a script still
    passing it is told so instead of the name being silently dropped."""

    def refuse(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            raise click.UsageError("--user is gone: the API records the user whose token (PLAYDECK_TOKEN) asks")

    return click.option("--user", hidden=True, expose_value=False, callback=refuse)(command)


# deploy, rollback and promote alike: the freeze rule holds every deploy a person asks for.
override_freeze_option = click.option(
    "--override-freeze",
    "freeze_override",
    default="",
    metavar="REASON",
    help="Deploy inside a freeze window anyway, for this reason (release managers; recorded and notified).",
)


def describe_run(run: dict[str, Any]) -> str:
    parts = [f"rc {run['rc']}" if run.get("rc") is not None else "", duration(run.get("duration_seconds"))]
    details = ", ".join(part for part in parts if part)
    deployed = source_label(run)
    line = (
        f"Run {run['id']} {run['state']}"
        + (f" ({details})" if details else "")
        + (f" [{deployed}]" if deployed else "")
    )
    return line + (f": {run['reason']}" if run.get("reason") else "")


def host_summary_table(run: dict[str, Any]) -> str:
    summaries = run.get("host_summaries") or []
    if not summaries:
        return "(no host summary: the playbook did not get to its recap)"
    headers = ["HOST", *(column.upper() for column in HOST_SUMMARY_COLUMNS)]
    return format_table(headers, [[s["host"], *(s.get(c, 0) for c in HOST_SUMMARY_COLUMNS)] for s in summaries])


def failure_text(run: dict[str, Any], page_url: str) -> str:
    """Why the run ended badly (``playdeck.runs.failure_summary``), and where its first failure is in the log;
    "" for a good end."""
    summary = run.get("failure_summary")
    details = failure_summary.lines(summary)
    if not details:
        return ""
    text = "\n".join(["Why it ended badly:", *(f"  {line}" for line in details)])
    first = next((host["failure"] for host in summary["hosts"] if host.get("failure")), None)
    if first is not None:
        text += f"\nFirst failure in the log: {page_url}#event-{first['counter']}"
    return text


def api_client() -> PlaydeckApi:
    settings = get_settings()
    return PlaydeckApi(settings.api_url, configured_token(settings))


@click.command()
@click.argument("project")
@click.option("--env", "environment", required=True, help="Environment of the project, e.g. staging.")
@click.option("--version", default="", help="Version to deploy (the playbook's default if empty).")
@click.option(
    "--ref",
    default="",
    metavar="REF",
    help="Git projects: the branch, tag or commit to deploy (default: the project's branch).",
)
@click.option("--extra-vars", callback=parse_extra_vars, metavar="JSON|@FILE", help="Extra variables for the playbook.")
@click.option("--limit", default="", metavar="PATTERN", help="Only these hosts (Ansible host pattern).")
@click.option("--tags", callback=split_list, metavar="A,B", help="Only tasks with these tags.")
@click.option("--check", is_flag=True, help="Dry run: Ansible check mode, nothing is changed.")
@override_freeze_option
@retired_user_option
@click.option("--wait", is_flag=True, help="Follow the log; exit 0 only if the run succeeds.")
def deploy(
    project: str,
    environment: str,
    version: str,
    ref: str,
    extra_vars: dict[str, Any],
    limit: str,
    tags: list[str],
    check: bool,
    freeze_override: str,
    wait: bool,
) -> None:
    """Queue a deploy of PROJECT to an environment (through the API, as the user of PLAYDECK_TOKEN)."""
    api = api_client()
    run = api.create_run(
        {
            "project": project,
            "environment": environment,
            "version": version,
            **({"ref": ref} if ref else {}),
            "extra_vars": extra_vars,
            "limit": limit,
            "tags": tags,
            "check": check,
            **({"freeze_override": freeze_override} if freeze_override else {}),
        }
    )
    announce_queued(api, run, wait)


def announce_queued(api: PlaydeckApi, run: dict[str, Any], wait: bool) -> None:
    """Say where the queued run can be watched; with ``wait``, follow it and exit 0 only if it succeeds."""
    click.echo(f"Run {run['id']} {run['state']}: {api.run_page_url(run['id'])}")
    if run["state"] == "awaiting_approval":
        click.echo(approval_line(run))
    if not wait:
        return
    try:
        final = follow_run(api, run["id"])
    except KeyboardInterrupt:
        click.echo(f"\nStopped following; run {run['id']} goes on: {api.run_page_url(run['id'])}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    click.echo(describe_run(final))
    click.echo(host_summary_table(final))
    explained = failure_text(final, api.run_page_url(run["id"]))
    if explained:
        click.echo(explained)
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


@click.command()
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
            source_label(run, with_subject=False) or "-",
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


@click.command()
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


@click.command()
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


def approval_line(run: dict[str, Any]) -> str:
    expires = (run.get("approval_expires_at") or "")[:19].replace("T", " ")
    return (
        f"It waits for approval: {run['approvals_given']} of {run['approvals_required']} given, until {expires} UTC "
        f"(playdeck approve {run['id']} -m COMMENT)"
    )


def _decide(run_id: int, decision: str, message: str) -> None:
    run = api_client().decide(run_id, decision, message)
    click.echo(describe_run(run))
    if run["state"] == "awaiting_approval":
        click.echo(approval_line(run))


@click.command()
@click.argument("run_id", type=click.IntRange(min=1))
@click.option("-m", "--message", default="", metavar="COMMENT", help="Why you approve (shown on the run page).")
def approve(run_id: int, message: str) -> None:
    """Approve run RUN_ID, awaiting approval; the last approval needed queues it. Exits 2 if refused (your own
    run, not an approver of its environment, already decided, or the run no longer awaits approval)."""
    _decide(run_id, "approve", message)


@click.command()
@click.argument("run_id", type=click.IntRange(min=1))
@click.option("-m", "--message", required=True, metavar="COMMENT", help="Why it is rejected (required).")
def reject(run_id: int, message: str) -> None:
    """Reject run RUN_ID, awaiting approval: it ends rejected. Exits 2 if refused."""
    _decide(run_id, "reject", message)


@click.command()
@click.argument("project")
@click.option("--env", "environment", required=True, help="The environment to roll back, e.g. production.")
@click.option(
    "--to", "to_run", type=click.IntRange(min=1), default=None, metavar="RUN", help="Deploy what run RUN deployed."
)
@override_freeze_option
@click.option("--wait", is_flag=True, help="Follow the log; exit 0 only if the rollback succeeds.")
def rollback(project: str, environment: str, to_run: int | None, freeze_override: str, wait: bool) -> None:
    """Roll PROJECT's environment back: deploy the last successful commit before the current one (or run RUN's),
    with that run's parameters, as a rollback of the current run. Exits 2 when there is nothing to roll back to,
    or inside a freeze window (without --override-freeze)."""
    api = api_client()
    run = api.rollback(project, environment, to_run, freeze_override)
    click.echo(f"Rollback of run {run['rollback_of']} in {environment}")
    announce_queued(api, run, wait)


@click.command()
@click.argument("run_id", type=click.IntRange(min=1))
@click.option("--to", "environment", required=True, help="The environment to promote to, e.g. production.")
@override_freeze_option
@click.option("--wait", is_flag=True, help="Follow the log; exit 0 only if the promoted deploy succeeds.")
def promote(run_id: int, environment: str, freeze_override: str, wait: bool) -> None:
    """Deploy what successful run RUN_ID deployed (its commit or version, and its parameters) to another
    environment of its project, linked to it. Exits 2 when refused: a run that did not succeed, a check-mode
    run, a target that accepts only what succeeded elsewhere first, or one inside a freeze window (without
    --override-freeze)."""
    api = api_client()
    run = api.promote_run(run_id, environment, freeze_override)
    click.echo(f"Promotion of run {run_id} to {environment}")
    announce_queued(api, run, wait)


# What playdeck.cli adds to the `playdeck` group.
COMMANDS = (deploy, runs, cancel, relaunch, rollback, promote, approve, reject)
