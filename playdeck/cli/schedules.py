"""``playdeck schedule add|list|pause|resume|rm``: schedules, through the JSON API as the token's user (who
becomes the owner of what they add, and whose permissions its runs have)."""

from __future__ import annotations

from typing import Any

import click

from playdeck.cli.common import split_list
from playdeck.cli.output import format_table
from playdeck.cli.runs import api_client, parse_extra_vars


def describe(schedule: dict[str, Any]) -> str:
    when = f"cron '{schedule['cron']}' in {schedule['timezone']}" if schedule["cron"] else f"once at {schedule['at']}"
    state = "enabled" if schedule["enabled"] else "paused"
    next_time = schedule["next_fire_at"] or "none"
    target = f"{schedule['project']}/{schedule['environment']}"
    if schedule.get("pipeline"):
        target = f"pipeline {schedule['project']}/{schedule['pipeline']}"
    line = f"Schedule {schedule['id']} {state}: {target} {when}; next {next_time}"
    return line + (f" ({schedule['paused_reason']})" if schedule.get("paused_reason") else "")


@click.group()
def schedule() -> None:
    """Deploys that run by themselves: on a cron expression in a time zone, or once at a time."""


@schedule.command("add")
@click.argument("project")
@click.option("--env", "environment", default=None, help="Environment of the project to deploy, e.g. staging.")
@click.option("--pipeline", default=None, help="Or: a pipeline of the project to run, e.g. release.")
@click.option("--cron", default=None, metavar="'M H DOM MON DOW'", help="Cron expression (five fields).")
@click.option("--timezone", default=None, metavar="ZONE", help="IANA time zone of --cron (default UTC).")
@click.option("--at", default=None, metavar="ISO8601", help="Once, at this time (with an offset, e.g. +01:00).")
@click.option("--version", default=None, help="Version to deploy (directory projects).")
@click.option("--ref", default=None, help="Branch, tag or commit to deploy (git projects).")
@click.option("--extra-vars", callback=parse_extra_vars, metavar="JSON|@FILE", help="Extra variables.")
@click.option("--limit", default=None, metavar="PATTERN", help="Only these hosts (Ansible host pattern).")
@click.option("--tags", callback=split_list, metavar="A,B", help="Only tasks with these tags.")
@click.option("--check", is_flag=True, help="Dry run: Ansible check mode.")
@click.option("--only-new-commits", is_flag=True, help="Skip a fire when the ref has no new commit (git projects).")
@click.option("--missed", "missed_policy", type=click.Choice(["run_once", "skip"]), default=None,
              help="Fire times missed while no scheduler ran: run once, or skip (default run_once).")  # fmt: skip
def add(project: str, **options: Any) -> None:
    """Add a schedule for PROJECT's environment (--env) or pipeline (--pipeline), owned by you; prints its next
    fire time."""
    body: dict[str, Any] = {"project": project}
    for name, value in options.items():
        if value not in (None, False, [], {}):
            body[name] = value
    click.echo(describe(api_client().create_schedule(body)))


@schedule.command("list")
@click.option("--project", default=None, help="Only this project's schedules.")
def list_schedules(project: str | None) -> None:
    """List schedules with their next fire time (UTC)."""
    rows = [
        [
            item["id"],
            "enabled" if item["enabled"] else "paused",
            item["project"],
            item["environment"] or f"pipeline {item['pipeline']}",
            item["cron"] or f"at {item['at']}",
            item["timezone"],
            item["next_fire_at"] or "-",
            item["owner"],
        ]
        for item in api_client().list_schedules(project)
    ]
    click.echo(format_table(["ID", "STATE", "PROJECT", "ENV/PIPELINE", "WHEN", "ZONE", "NEXT (UTC)", "OWNER"], rows))


@schedule.command("pause")
@click.argument("schedule_id", type=int)
def pause(schedule_id: int) -> None:
    """Pause a schedule: it fires no more until resumed."""
    click.echo(describe(api_client().update_schedule(schedule_id, {"enabled": False})))


@schedule.command("resume")
@click.argument("schedule_id", type=int)
def resume(schedule_id: int) -> None:
    """Resume a paused schedule from now (times passed while paused are not run)."""
    click.echo(describe(api_client().update_schedule(schedule_id, {"enabled": True})))


@schedule.command("rm")
@click.argument("schedule_id", type=int)
def remove(schedule_id: int) -> None:
    """Delete a schedule (its past runs stay)."""
    api_client().delete_schedule(schedule_id)
    click.echo(f"Schedule {schedule_id} deleted")


COMMANDS = (schedule,)
