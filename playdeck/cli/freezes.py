"""``playdeck freeze``: add, list and remove freeze windows, through the API as the user of PLAYDECK_TOKEN
(release managers and admins change them, everyone lists them)."""

from __future__ import annotations

from typing import Any

import click

from playdeck.cli.output import format_table
from playdeck.cli.runs import api_client

KIND_OPTIONS = ("weekly", "yearly", "adhoc")


@click.group()
def freeze() -> None:
    """Freeze windows: when deploys are refused (per environment, or everywhere)."""


def _chosen_kind(spans: dict[str, tuple[str, str] | None]) -> tuple[str, tuple[str, str]]:
    given = [(kind, span) for kind, span in spans.items() if span]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --weekly, --yearly or --adhoc, each with a START and an END")
    return given[0]  # type: ignore[return-value]


@freeze.command("add")
@click.argument("name")
@click.option("--project", default=None, help="With --env: the window of one environment (default: every one).")
@click.option("--env", "environment", default=None, help="The project's environment.")
@click.option("--weekly", nargs=2, metavar="START END", help='Every week: --weekly "Fri 16:00" "Mon 08:00".')
@click.option("--yearly", nargs=2, metavar="START END", help='Every year: --yearly "Dec 20" "Jan 3".')
@click.option("--adhoc", nargs=2, metavar="START END", help='Once: --adhoc "2026-12-24 18:00" "2026-12-27 08:00".')
@click.option("--tz", "timezone", default="UTC", show_default=True, help="The zone of the times (Europe/Berlin).")
@click.option("--reason", default="", help="Why (required for --adhoc).")
def freeze_add(name: str, project: str | None, environment: str | None, timezone: str, reason: str,
               **spans: tuple[str, str] | None) -> None:  # fmt: skip
    """Add the freeze window NAME; e.g. `playdeck freeze add Weekend --project shop --env production
    --weekly "Fri 16:00" "Mon 08:00" --tz Europe/Berlin`."""
    kind, (start, end) = _chosen_kind(spans)
    fields: dict[str, Any] = {"name": name, "kind": kind, "timezone": timezone, "start": start, "end": end}
    if reason:
        fields["reason"] = reason
    if project is not None or environment is not None:
        fields |= {"project": project, "environment": environment}
    window = api_client().create_freeze_window(fields)
    click.echo(f"Freeze window {window['id']} '{window['name']}' ({window['scope']}): {window['label']}")


@freeze.command("list")
@click.option("--project", default=None, help="With --env: the windows that apply there, and its status now.")
@click.option("--env", "environment", default=None, help="The project's environment.")
def freeze_list(project: str | None, environment: str | None) -> None:
    """List the freeze windows (global ones first)."""
    listing = api_client().list_freeze_windows(project, environment)
    rows = [[w["id"], w["name"], w["scope"], w["label"], w["reason"] or "-"] for w in listing["windows"]]
    click.echo(format_table(["ID", "NAME", "APPLIES TO", "WHEN", "REASON"], rows) if rows else "No freeze windows.")
    status = listing.get("status")
    if status:
        click.echo(_status_line(project or "", environment or "", status))


def _status_line(project: str, environment: str, status: dict[str, Any]) -> str:
    where = f"{project}/{environment}"
    line = (
        f"{where}: frozen until {status['until_local']} ({status['until']})"
        if status["frozen"]
        else f"{where}: not frozen"
    )
    upcoming = status.get("next")
    if upcoming:
        line += f"; next: '{upcoming['name']}' from {upcoming['starts_local']} to {upcoming['ends_local']}"
    return line


@freeze.command("rm")
@click.argument("window_id", type=click.IntRange(min=1), metavar="ID")
def freeze_rm(window_id: int) -> None:
    """Remove the freeze window ID (see `playdeck freeze list`)."""
    api_client().delete_freeze_window(window_id)
    click.echo(f"Freeze window {window_id} removed.")


COMMANDS = (freeze,)
