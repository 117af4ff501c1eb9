"""``playdeck notify``: notification destinations and their subscriptions, on the database directly
(PLAYDECK_DATABASE_URL), for whoever administers the server; audited as the login name of whoever runs it.
Bad input exits 2 with the message, nothing stored (``playdeck.cli.PlaydeckGroup``)."""

from __future__ import annotations

import click

from playdeck.cli.common import EXIT_REFUSED, CommandFailed, default_user, shell_session, split_list
from playdeck.cli.output import format_table


@click.group()
def notify() -> None:
    """Notification destinations (Slack, Teams, JSON webhooks, e-mail) and the events they are subscribed to."""


@notify.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(["slack", "teams", "json", "email"]), required=True)
@click.option("--url", default=None, help="The webhook URL (slack, teams, json).")
@click.option("--to", "recipients", callback=split_list, metavar="A,B", help="E-mail addresses (email).")
@click.option("--secret-stdin", is_flag=True, help="json: sign with the secret read from stdin (default: a new one).")
@click.option("--unsigned", is_flag=True, help="json: send deliveries unsigned.")
@click.option("--inactive", is_flag=True, help="Add it paused.")
def notify_add(
    name: str, kind: str, url: str | None, recipients: list[str], secret_stdin: bool, unsigned: bool, inactive: bool
) -> None:
    """Add a destination; `playdeck notify add ops --kind email --to ops@example.com,lead@example.com`. A json
    destination signs its deliveries: the new secret is printed this once (or give yours with --secret-stdin)."""
    from playdeck.cli.admin import secret_input
    from playdeck.notifications import destinations

    if secret_stdin and unsigned:
        raise CommandFailed("give --secret-stdin or --unsigned, not both", EXIT_REFUSED)
    secret = secret_input("signing secret: ").strip() if secret_stdin else ("" if unsigned else None)
    if secret_stdin and not secret:
        raise CommandFailed("--secret-stdin needs a secret on stdin", EXIT_REFUSED)
    with shell_session() as session:
        view = destinations.create(session, name, kind, url=url, recipients=recipients or None,
                                   active=not inactive, secret=secret, who=default_user())  # fmt: skip
    click.echo(f"Destination {view.name} added ({view.kind}); subscribe it: playdeck notify subscribe {view.name}")
    if view.secret is not None:
        click.echo(f"Signing secret (shown only this once): {view.secret}")


@notify.command("list")
def notify_list() -> None:
    """Every destination."""
    from playdeck.notifications import destinations

    with shell_session() as session:
        rows = [[v.name, v.kind, v.url or ",".join(v.recipients), "active" if v.active else "paused"]
                for v in destinations.list_all(session)]  # fmt: skip
    if not rows:
        click.echo("No notification destinations.")
        return
    click.echo(format_table(["NAME", "KIND", "TARGET", "STATE"], rows))


@notify.command("subscribe")
@click.argument("name")
@click.option("--project", default=None, help="A project (default: every project).")
@click.option("--env", "environment", default=None, help="An environment's name (default: every environment).")
@click.option("--events", callback=split_list, metavar="A,B", help="Event names (default: every event).")
@click.option("--failure-only", is_flag=True, help="Only failed, timeout and lost.")
@click.option("--quiet", default=None, metavar="HH:MM-HH:MM", help="Quiet hours: other events wait until they end.")
@click.option("--tz", "zone", default=None, help="The quiet hours' IANA time zone (Europe/Berlin).")
def notify_subscribe(
    name: str, project: str | None, environment: str | None, events: list[str], failure_only: bool,
    quiet: str | None, zone: str | None,
) -> None:  # fmt: skip
    """Subscribe a destination; `playdeck notify subscribe ops --project app --env production --events failed,fixed`."""
    from playdeck.notifications import subscriptions

    start, _, end = (quiet or "").partition("-")
    if quiet is not None and not end:
        raise CommandFailed("--quiet must be HH:MM-HH:MM, e.g. 22:00-07:00", EXIT_REFUSED)
    values = {
        "project": project, "environment": environment, "events": events or None, "failure_only": failure_only,
        "quiet_start": start or None, "quiet_end": end or None, "quiet_zone": zone,
    }  # fmt: skip
    with shell_session() as session:
        made = subscriptions.create(session, name, values, who=default_user())
    click.echo(f"Subscription {made.id} of {name} added: {', '.join(made.events)}.")


@notify.command("subscriptions")
@click.argument("name")
def notify_subscriptions(name: str) -> None:
    """A destination's subscriptions."""
    from playdeck.notifications import subscriptions

    with shell_session() as session:
        rows = [
            [s.id, s.project or "*", s.environment or "*", ",".join(s.events), "yes" if s.failure_only else "no",
             f"{s.quiet_hours['start']}-{s.quiet_hours['end']} {s.quiet_hours['zone']}" if s.quiet_hours else "-"]
            for s in subscriptions.list_for(session, name)
        ]  # fmt: skip
    if not rows:
        click.echo(f"{name} is subscribed to nothing.")
        return
    click.echo(format_table(["ID", "PROJECT", "ENV", "EVENTS", "FAILURE-ONLY", "QUIET"], rows))


@notify.command("unsubscribe")
@click.argument("name")
@click.argument("subscription_id", type=click.IntRange(min=1))
def notify_unsubscribe(name: str, subscription_id: int) -> None:
    """Remove one subscription of a destination."""
    from playdeck.notifications import subscriptions

    with shell_session() as session:
        subscriptions.delete(session, name, subscription_id, who=default_user())
    click.echo(f"Subscription {subscription_id} of {name} removed.")


@notify.command("remove")
@click.argument("name")
def notify_remove(name: str) -> None:
    """Delete a destination, its subscriptions and its delivery log."""
    from playdeck.notifications import destinations

    with shell_session() as session:
        destinations.delete(session, name, who=default_user())
    click.echo(f"Destination {name} removed.")


@notify.command("test")
@click.argument("name")
def notify_test(name: str) -> None:
    """Queue a test notification (the reaper sends it); `playdeck notify log NAME` shows the outcome."""
    from playdeck.notifications import destinations

    with shell_session() as session:
        delivery = destinations.enqueue_test(session, name, who=default_user())
        delivery_id = delivery.id
    click.echo(f"Test notification queued (delivery {delivery_id}).")


@notify.command("log")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
def notify_log(name: str, limit: int) -> None:
    """A destination's latest deliveries, newest first."""
    from playdeck.notifications import destinations

    with shell_session() as session:
        found, _ = destinations.list_deliveries(session, name, None, limit)
        rows = [[d.id, d.run_id or "-", d.event, d.state, d.attempts, d.last_error or "-"] for d in found]
    if not rows:
        click.echo(f"Nothing sent to {name} yet.")
        return
    click.echo(format_table(["ID", "RUN", "EVENT", "STATE", "ATTEMPTS", "LAST ERROR"], rows))


COMMANDS = (notify,)
