"""``playdeck sso``: the group mapping rules of single sign-on (``rule add|list|set|rm``, on the database
directly, for whoever administers the server), the stored client secret (``secret set|show|rm``) and ``check``,
which tries the configured provider."""

from __future__ import annotations

from typing import Any

import click

from playdeck.cli.admin import ROLE_CHOICE
from playdeck.cli.common import EXIT_RUN_FAILED, CommandFailed, shell_session
from playdeck.cli.output import format_table

SOURCE_CHOICE = click.Choice(["any", "oidc", "ldap"])
RULE_HEADERS = ["ID", "SOURCE", "GROUP", "ROLE", "PROJECTS", "ZONES", "MANUAL GRANTS"]


@click.group()
def sso() -> None:
    """Single sign-on: group mapping rules, and a check of the provider's configuration."""


@sso.group("rule")
def rule() -> None:
    """Rules from a provider group to a role and project/zone grants, applied at every login."""


def _row(shown: dict[str, Any]) -> list[str]:
    return [
        str(shown["id"]), shown["source"], shown["group"], shown["role"], ",".join(shown["projects"]) or "-",
        ",".join(shown["zones"]) or "-", "kept" if shown["keep_manual_grants"] else "dropped",
    ]  # fmt: skip


def _fields(options: dict[str, Any]) -> dict[str, Any]:
    """The rule fields the options name (a repeatable option given none times leaves it unchanged)."""
    fields = {key: value for key, value in options.items() if value is not None and key not in ("projects", "zones")}
    for key in ("projects", "zones"):
        if options[key]:
            fields[key] = [item for item in options[key] if item != "-"]
    return fields


_OPTIONS = (
    click.option("--source", type=SOURCE_CHOICE, default=None, help="The provider of the group (default any)."),
    click.option("--role", type=ROLE_CHOICE, default=None, help="The role the group's members get."),
    click.option("--project", "projects", multiple=True, help="A project members deploy (repeatable; - for none)."),
    click.option("--zone", "zones", multiple=True, help="A DNS zone members edit (repeatable; - for none)."),
    click.option(
        "--keep-manual-grants/--drop-manual-grants",
        "keep_manual_grants",
        default=None,
        help="Whether grants given by hand survive the members' logins (default kept).",
    ),  # fmt: skip
)


def _rule_options(command: Any) -> Any:
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


@rule.command("add")
@click.argument("group")
@_rule_options
def rule_add(group: str, **options: Any) -> None:
    """Map GROUP (a group name, or an LDAP group DN) to --role and grants; e.g.
    `playdeck sso rule add cn=deployers,ou=groups --role developer --project shop --project web`."""
    from playdeck.auth.sso import rules

    if options["role"] is None:
        raise click.UsageError("give --role")
    with shell_session() as session:
        shown = rules.describe(rules.create_rule(session, {"group": group, **_fields(options)}))
    click.echo(format_table(RULE_HEADERS, [_row(shown)]))


@rule.command("set")
@click.argument("rule_id", type=click.IntRange(min=1), metavar="ID")
@click.option("--group", default=None, help="Another group.")
@_rule_options
def rule_set(rule_id: int, **options: Any) -> None:
    """Change rule ID; users get the change at their next login."""
    from playdeck.auth.sso import rules

    fields = _fields(options)
    if not fields:
        raise click.UsageError("nothing to change: give --group, --source, --role, --project, --zone, --*-grants")
    with shell_session() as session:
        shown = rules.describe(rules.update_rule(session, rule_id, fields))
    click.echo(format_table(RULE_HEADERS, [_row(shown)]))


@rule.command("list")
def rule_list() -> None:
    """List the rules."""
    from playdeck.auth.sso import rules

    with shell_session() as session:
        rows = [_row(rules.describe(found)) for found in rules.list_rules(session)]
    click.echo(format_table(RULE_HEADERS, rows) if rows else "No rules: nobody can sign in with single sign-on.")


@rule.command("rm")
@click.argument("rule_id", type=click.IntRange(min=1), metavar="ID")
def rule_rm(rule_id: int) -> None:
    """Remove rule ID; its members lose what it gave at their next login."""
    from playdeck.auth.sso import rules

    with shell_session() as session:
        rules.delete_rule(session, rule_id)
    click.echo(f"Rule {rule_id} removed.")


@sso.group("secret")
def secret() -> None:
    """The OpenID Connect client secret stored in Playdeck (encrypted), used when neither
    PLAYDECK_OIDC_CLIENT_SECRET nor PLAYDECK_OIDC_CLIENT_SECRET_FILE is set."""


@secret.command("set")
def secret_set() -> None:
    """Store the client secret, read from stdin (`playdeck sso secret set < secret.txt`) or typed without echo;
    never from the command line (shell history, ps)."""
    from playdeck.auth.sso import client_secret
    from playdeck.cli.admin import secret_input
    from playdeck.cli.common import default_user

    value = secret_input("client secret: ").removesuffix("\n").removesuffix("\r")
    with shell_session() as session:
        shown = client_secret.set_secret(session, value, who=default_user())
    used = "it is used" if shown["source"] == "store" else "PLAYDECK_OIDC_CLIENT_SECRET(_FILE) is set and wins"
    click.echo(f"Client secret stored; {used}.")


@secret.command("show")
def secret_show() -> None:
    """Where the client secret comes from (never its value)."""
    from playdeck.auth.sso import client_secret

    with shell_session() as session:
        shown = client_secret.describe(session)
    stored = shown["stored"]
    click.echo(f"source: {shown['source']}")
    click.echo(f"stored: {stored['updated_at']} by {stored['updated_by']}" if stored else "stored: none")


@secret.command("rm")
def secret_rm() -> None:
    """Remove the stored client secret."""
    from playdeck.auth.sso import client_secret
    from playdeck.cli.common import default_user

    with shell_session() as session:
        client_secret.delete_secret(session, who=default_user())
    click.echo("Stored client secret removed.")


@sso.command("check")
def sso_check() -> None:
    """Check the OpenID Connect configuration: settings, the provider's discovery document and keys (reached as
    the web would), and the group rules. Exit 0 when all is well, 1 otherwise."""
    from playdeck.auth.sso.check import check
    from playdeck.settings import get_settings

    with shell_session() as session:
        findings = check(session, get_settings())
    for finding in findings:
        click.echo(f"{'ok' if finding.ok else 'PROBLEM'}: {finding.message}")
    if not all(finding.ok for finding in findings):
        raise CommandFailed("the single sign-on configuration has problems (see above)", EXIT_RUN_FAILED)


COMMANDS = (sso,)
