"""Administration, on the database directly (PLAYDECK_DATABASE_URL), for whoever administers the server:
``env``, ``user``, ``token``, ``secret`` and ``webhook`` (``project`` is in ``playdeck.cli.projects``).
Changes are audited as the login name of whoever runs the command (``playdeck.cli.common.shell_session``).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import sys
from typing import TYPE_CHECKING, Any

import click

from playdeck.auth.permissions import Role
from playdeck.cli.common import EXIT_REFUSED, CommandFailed, default_user, shell_session, split_list
from playdeck.cli.output import format_table, utc_text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from playdeck.auth.models import User


@click.group("env")
def environment_group() -> None:
    """Environments' queue routing, SSH known hosts, release rules and approvals (on PLAYDECK_DATABASE_URL)."""


def _approval_changes(options: dict[str, Any]) -> dict[str, Any]:
    """The approval settings the options name, as ``environments.set_options`` takes them."""
    changes: dict[str, Any] = {}
    if options["approvals"] is not None:
        changes["approvals_required"] = options["approvals"]
    if options["approver_roles"] is not None:
        changes["approver_roles"] = options["approver_roles"]
    if options["approver_users"] is not None:
        changes["approver_users"] = options["approver_users"]
    if options["approval_timeout"] is not None:
        changes["approval_timeout_seconds"] = options["approval_timeout"]
    if options["rollback_skips_approval"] is not None:
        changes["rollback_skips_approval"] = options["rollback_skips_approval"]
    return changes


def _list_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> list[str] | None:
    # "" (an empty --approver-users '') clears the list; unset leaves it as it is.
    return None if value is None else split_list(_ctx, _param, value)


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
@click.option(
    "--requires-success-in",
    metavar="ENV",
    default=None,
    help="Deploy here only commits (versions) that succeeded in this other environment first.",
)
@click.option("--no-requires-success-in", is_flag=True, help="Drop that rule.")
@click.option("--approvals", type=click.IntRange(0, 3), default=None, help="Approvals a deploy waits for (0: none).")
@click.option("--approver-roles", callback=_list_option, metavar="ROLE,ROLE", help="release_manager and/or admin.")
@click.option("--approver-users", callback=_list_option, metavar="USER,USER", help="Users who may approve ('' none).")
@click.option("--approval-timeout", type=click.IntRange(min=1), default=None, metavar="SECONDS",
              help="How long a request waits before it expires (default 86400).")  # fmt: skip
@click.option("--rollback-skips-approval/--rollback-needs-approval", default=None,
              help="Whether rollbacks are queued without approval.")  # fmt: skip
def environment_set(
    project_name: str,
    environment: str,
    queue: str | None,
    default_queue: bool,
    known_hosts_file: Any,
    requires_success_in: str | None,
    no_requires_success_in: bool,
    **options: Any,
) -> None:
    """Route ENV's runs to a queue, set its SSH known hosts, the environment what it deploys must have
    succeeded in first and/or its approvals; prints the environment's settings."""
    from playdeck import environments

    changes: dict[str, Any] = {}
    for value, unset, name in (
        (queue, default_queue, "queue"),
        (requires_success_in, no_requires_success_in, "requires_success_in"),
    ):
        option = name.replace("_", "-")
        if value is not None and unset:
            raise click.UsageError(f"--{option} and its unsetting flag exclude each other")
        if value is not None or unset:
            changes[name] = value
    if known_hosts_file is not None:
        changes["known_hosts"] = known_hosts_file.read()
    changes.update(_approval_changes(options))
    if not changes:
        raise click.UsageError(
            "nothing to change: give --queue, --default-queue, --known-hosts-file, --requires-success-in, "
            "--no-requires-success-in or --approvals (see --help)"
        )
    with shell_session() as session:
        shown = environments.set_options(session, project_name, environment, **changes)
    click.echo(json.dumps(shown.as_json(), indent=2))


@environment_group.command("show")
@click.argument("project_name", metavar="PROJECT")
@click.argument("environment", metavar="ENV")
@click.option("--known-hosts", "print_known_hosts", is_flag=True, help="Print the known_hosts lines instead.")
def environment_show(project_name: str, environment: str, print_known_hosts: bool) -> None:
    """ENV's queue, known hosts and release rules."""
    from playdeck import environments, projects

    with shell_session() as session:
        if print_known_hosts:
            env = projects.get_environment(projects.get_project(session, project_name), environment)
            click.echo(env.known_hosts, nl=False)
            return
        shown = environments.get(session, project_name, environment)
    click.echo(json.dumps(shown.as_json(), indent=2))


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


@click.group()
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
    from playdeck.dns import editors

    with shell_session() as session:
        granted = users.get_user(session, name)
        for project_name in projects:
            users.grant_project(session, granted, project_name)
        for zone in zones:
            editors.grant_zone(session, granted, zone)
        show_user(session, granted)


@click.group()
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


@click.group()
def secret() -> None:
    """Project secrets: SSH keys, become and vault passwords, encrypted with PLAYDECK_SECRET_KEY (works on
    PLAYDECK_DATABASE_URL directly)."""


SECRET_KIND = click.Choice(
    ["ssh_key", "become_password", "vault_password", "git_ssh_key", "git_password", "webhook_secret"]
)
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
    if not sys.stdin.isatty() and kind not in ("ssh_key", "git_ssh_key"):
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


@secret.command("reencrypt")
def secret_reencrypt() -> None:
    """After putting a new key in front of PLAYDECK_SECRET_KEY ("new,old"): encrypt everything sealed with the old
    one again with the new one (project secrets, signing secrets, the OpenID Connect client secret, queued runs'
    secret inputs); then the old key can be dropped. Nothing changes if any value cannot be opened."""
    from playdeck import key_rotation

    with shell_session() as session:
        counts = key_rotation.reencrypt_all(session)
    details = ", ".join(f"{name} {count}" for name, count in counts.items())
    click.echo(f"{sum(counts.values())} values re-encrypted with the first key ({details}).")


@click.group()
def webhook() -> None:
    """A project's webhooks: a POST to a URL when a run starts or ends (directly on the database)."""


@webhook.command("add")
@click.argument("project_name", metavar="PROJECT")
@click.argument("url")
@click.option("--format", "format_", type=click.Choice(["json", "slack"]), default="json", show_default=True)
@click.option(
    "--events",
    callback=split_list,
    metavar="A,B",
    help="started,succeeded,failed,canceled,timeout,lost,freeze_overridden (default all).",
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


# What playdeck.cli adds to the `playdeck` group.
COMMANDS = (environment_group, user, token, secret, webhook)
