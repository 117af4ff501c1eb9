"""``playdeck ldap check [NAME]``: try the directory configuration (PLAYDECK_LDAP_*) before people depend on
it: connect over TLS, bind as the service account, look NAME up, list their groups and what the group mapping
rules would give them. Reads only; exit 1 when the directory cannot be used, 2 when NAME is not found.

``playdeck ldap sync``: re-apply the group mapping to every directory user now (``playdeck.auth.ldap.sync``),
audited as the login name of whoever runs it."""

from __future__ import annotations

import click

from playdeck.cli.common import (
    EXIT_REFUSED,
    EXIT_RUN_FAILED,
    CommandFailed,
    database_errors,
    default_user,
    shell_session,
)
from playdeck.settings import get_settings


@click.group()
def ldap() -> None:
    """The company directory (LDAP, Active Directory) people log in with."""


def _access_line(groups: tuple[str, ...]) -> str:
    from playdeck.auth.ldap.login import SOURCE
    from playdeck.auth.sso import rules

    with shell_session() as session:
        access = rules.resolve(rules.list_rules(session), SOURCE, groups)
    if access is None:
        return "Would get: no access (no group mapping rule matches these groups)"
    grants = [f"projects {', '.join(sorted(access.projects))}"] if access.projects else []
    grants += [f"zones {', '.join(sorted(access.zones))}"] if access.zones else []
    rule_ids = ", ".join(str(rule_id) for rule_id in access.rule_ids)
    return f"Would get: {access.role.value}{' on ' + '; '.join(grants) if grants else ''} (rules {rule_ids})"


@ldap.command("check")
@click.argument("name", required=False)
def ldap_check(name: str | None) -> None:
    """Connect, bind as the service account and, given NAME, show who that is and their groups."""
    from playdeck.auth.ldap import connection, login
    from playdeck.errors import DirectoryUnavailable

    settings = get_settings()
    if not login.configured(settings):
        raise CommandFailed("no directory is configured: set PLAYDECK_LDAP_URL (README: settings)", EXIT_REFUSED)
    try:
        connection.close(connection.service_connection(settings))
        click.echo(f"Directory {', '.join(settings.ldap_urls)}: bound as {settings.ldap_bind_dn} over TLS")
        if name is None:
            return
        identity = login.look_up(name, settings)
    except DirectoryUnavailable as exc:
        raise CommandFailed(f"{exc.message}: {exc.detail}", EXIT_RUN_FAILED) from None
    if identity is None:
        raise CommandFailed(
            f"no single entry under {settings.ldap_user_base} has the login name {name!r}", EXIT_REFUSED
        )
    # login: the DN is the former subject of an identity keyed by the entry's id.
    dn = (*identity.former_subjects, identity.subject)[0]
    click.echo(f"{identity.user_name}: {dn}")
    if dn == identity.subject:
        click.echo(f"  linked by its DN: the entry has none of {', '.join(settings.ldap_id_attributes)}")
    else:
        click.echo(f"  linked by {identity.subject} (a rename or move keeps it)")
    click.echo(f"  e-mail {identity.email or '-'}, display name {identity.display_name or '-'}")
    click.echo(f"Groups ({len(identity.groups)}):")
    for group in identity.groups:
        click.echo(f"  {group}")
    click.echo(_access_line(identity.groups))


@ldap.command("sync")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
def ldap_sync(dry_run: bool) -> None:
    """Give every directory user what their groups give now: roles and grants updated, users whose groups map
    to nothing (or who left the directory) deactivated, their sessions ended and tokens revoked."""
    from playdeck import audit
    from playdeck.auth.ldap import sync
    from playdeck.errors import DirectoryUnavailable

    if not get_settings().ldap_urls:
        raise CommandFailed("no directory is configured: set PLAYDECK_LDAP_URL (README: settings)", EXIT_REFUSED)
    try:
        with database_errors(), audit.acting_as(default_user(), "cli"):
            outcomes = sync.sync_all(dry_run=dry_run)
    except DirectoryUnavailable as exc:
        raise CommandFailed(f"{exc.message}: {exc.detail}; nothing changed", EXIT_RUN_FAILED) from None
    for outcome in outcomes:
        click.echo(f"{outcome.user}: {outcome.result}")
    click.echo(f"{len(outcomes)} directory user(s){' (dry run: nothing changed)' if dry_run else ''}.")


COMMANDS = (ldap,)
