"""``playdeck project``: register, edit, show, list and archive projects, and set their run limits and deploy
policies, on the database directly (PLAYDECK_DATABASE_URL), for whoever administers the server: it acts as an
admin, and its changes are audited as the login name of whoever runs it (``playdeck.cli.common``).

Secrets (the git key or token, the push hook's secret, the vault password) come from files or stdin (``-``),
never from the command line, where the shell's history and ``ps`` would keep them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from playdeck.cli.common import shell_principal, shell_session
from playdeck.cli.output import format_table, utc_text

Command = TypeVar("Command", bound=Callable[..., Any])


@click.group()
def project() -> None:
    """Register and edit projects, their run limits and deploy policies (works on PLAYDECK_DATABASE_URL directly)."""


def _pairs(values: Iterable[str], option: str) -> list[tuple[str, str]]:
    found = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise click.BadParameter(f"expected NAME=VALUE, got {value!r}", param_hint=option)
        found.append((name, rest))
    return found


def _read(path: str | None, option: str, strip: bool = True) -> str | None:
    """A file's text, or stdin's for "-"; a password loses its final newline, a key keeps its own."""
    if path is None:
        return None
    try:
        text = sys.stdin.read() if path == "-" else Path(path).expanduser().read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise click.BadParameter(f"cannot read {path}: {reason}", param_hint=option) from None
    return text.removesuffix("\n").removesuffix("\r") if strip else text


COMMON_OPTIONS = (
    click.option("--git", "git_url", metavar="URL", help="A git project: https://…, ssh://…, user@host:path, file://…"),
    click.option("--branch", metavar="BRANCH", help="The git branch deploys take by default."),
    click.option("--playbook", metavar="PATH", help="The playbook, relative to the source."),
    click.option("--env", "envs", multiple=True, metavar="NAME=PATH", help="An environment and its inventory path."),
    click.option("--inline-env", multiple=True, metavar="NAME=FILE", help="An environment with an inline inventory."),
    click.option("--env-vars", multiple=True, metavar="NAME=FILE", help="An environment's variables (a YAML file)."),
    click.option("--protected", multiple=True, metavar="NAME", help="Only release managers deploy there."),
    click.option("--description", help="What the project is."),
    click.option("--cache-seconds", type=click.IntRange(min=0), help="Reuse a fetch this recent (default 60)."),
    click.option("--submodules/--no-submodules", default=None, help="Check git submodules out too."),
    click.option("--git-key-file", metavar="FILE", help="The SSH key git fetches with (- for stdin)."),
    click.option("--git-username", metavar="USER", help="The HTTPS user name, with --git-token-file."),
    click.option("--git-token-file", metavar="FILE", help="The HTTPS password or token (- for stdin)."),
    click.option("--git-known-hosts-file", metavar="FILE", help="known_hosts lines of the SSH git server."),
    click.option("--webhook-secret-file", metavar="FILE", help="The secret push hooks are verified with."),
    click.option("--vault-password-file", metavar="FILE", help="The Ansible vault password (- for stdin)."),
    click.option("--vault-id", metavar="LABEL", help="The vault id the password is given as."),
    click.option("--deploy-on-push", multiple=True, metavar="BRANCH=ENV", help="A push to BRANCH deploys to ENV."),
)


def common_options(command: Command) -> Command:
    for option in reversed(COMMON_OPTIONS):
        command = option(command)
    return command


def _environments(options: dict[str, Any]) -> dict[str, Any]:
    environments: dict[str, Any] = {}
    for name, path in _pairs(options["envs"], "--env"):
        environments.setdefault(name, {})["inventory"] = path
    for name, path in _pairs(options["inline_env"], "--inline-env"):
        environments.setdefault(name, {})["inline_inventory"] = _read(path, "--inline-env")
    for name, path in _pairs(options["env_vars"], "--env-vars"):
        environments.setdefault(name, {})["variables_yaml"] = _read(path, "--env-vars")
    for name in options["protected"]:
        environments.setdefault(name, {})["protected"] = True
    for name in options.get("unprotected", ()):
        environments.setdefault(name, {})["protected"] = False
    for name in options.get("remove_env", ()):
        environments[name] = None
    return environments


SIMPLE = {"branch": "git_branch", "playbook": "playbook", "description": "description",
          "cache_seconds": "git_cache_seconds", "submodules": "git_submodules", "git_username": "git_username",
          "vault_id": "vault_id"}  # fmt: skip


def _body(options: dict[str, Any]) -> dict[str, Any]:
    """The registry's body (as the API takes it) from the options given; secrets read from their files."""
    if sum(options.get(name) == "-" for name in options if name.endswith("_file")) > 1:
        raise click.UsageError("only one of the files can be - (stdin)")
    body: dict[str, Any] = {field: options[name] for name, field in SIMPLE.items() if options.get(name) is not None}
    if options["git_url"] is not None:
        body.update(source_kind="git", git_url=options["git_url"])
    if options.get("directory"):
        body["source_kind"] = "directory"
    environments = _environments(options)
    if environments:
        body["environments"] = environments
    if options["deploy_on_push"]:
        body["branch_environments"] = dict(_pairs(options["deploy_on_push"], "--deploy-on-push"))
    if options.get("no_deploy_on_push"):
        body["branch_environments"] = None
    secrets = {"git_ssh_key": _read(options["git_key_file"], "--git-key-file", strip=False),
               "git_password": _read(options["git_token_file"], "--git-token-file"),
               "webhook_secret": _read(options["webhook_secret_file"], "--webhook-secret-file"),
               "vault_password": _read(options["vault_password_file"], "--vault-password-file")}  # fmt: skip
    body.update({kind: value for kind, value in secrets.items() if value is not None})
    if options.get("no_git_credential"):
        body.update(git_ssh_key=None, git_password=None)
    known_hosts = _read(options["git_known_hosts_file"], "--git-known-hosts-file", strip=False)
    if known_hosts is not None:
        body["git_known_hosts"] = known_hosts
    return body


def _show(shown: dict[str, Any]) -> None:
    click.echo(json.dumps(shown, indent=2))


@project.command("add")
@click.argument("name")
@common_options
def project_add(name: str, **options: Any) -> None:
    """Register the project NAME (a git project with --git, else from the server's playbook and inventory dirs);
    prints it, e.g. `playdeck project add shop --git URL --branch main --playbook deploy/site.yml
    --env staging=deploy/staging.ini --env production=deploy/production.ini --protected production`."""
    from playdeck.projects import registry
    from playdeck.projects.changes import parse_changes

    # Checked (inline inventories by ansible-inventory) before the database is opened.
    changes = parse_changes({"name": name, **_body(options)}, allow_file_urls=True)
    with shell_session() as session:
        _show(registry.describe(session, registry.create_project(session, shell_principal(), changes)))


@project.command("edit")
@click.argument("name")
@common_options
@click.option("--directory", is_flag=True, help="Take the playbook and inventories from the server's dirs again.")
@click.option("--unprotected", multiple=True, metavar="NAME", help="Anyone granted the project deploys there.")
@click.option("--remove-env", multiple=True, metavar="NAME", help="Remove an environment (refused if it has runs).")
@click.option("--no-git-credential", is_flag=True, help="Remove the git key or token.")
@click.option("--no-deploy-on-push", is_flag=True, help="Pushes deploy nothing.")
def project_edit(name: str, **options: Any) -> None:
    """Change what the options name of the project NAME; prints it."""
    from playdeck.projects import registry
    from playdeck.projects.changes import parse_changes

    body = _body(options)
    if not body:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    changes = parse_changes(body, allow_file_urls=True)
    with shell_session() as session:
        _show(registry.describe(session, registry.update_project(session, shell_principal(), name, changes)))


@project.command("show")
@click.argument("name")
def project_show(name: str) -> None:
    """The project NAME as JSON: its source, environments and which credentials are set (never their values)."""
    from playdeck.projects import get_project, registry

    with shell_session() as session:
        _show(registry.describe(session, get_project(session, name)))


@project.command("list")
@click.option("--archived", is_flag=True, help="The archived projects too.")
def project_list(archived: bool) -> None:
    """The projects: name, source, branch, environments and when they were archived."""
    from playdeck.projects import list_projects

    with shell_session() as session:
        rows = [
            [listed.name, listed.source_kind, listed.git_url or "-", listed.git_branch or "-",
             ",".join(env.name for env in listed.environments), utc_text(listed.archived_at)]
            for listed in list_projects(session, include_archived=archived)
        ]  # fmt: skip
    headers = ["NAME", "SOURCE", "URL", "BRANCH", "ENVIRONMENTS", "ARCHIVED (UTC)"]
    click.echo(format_table(headers, rows) if rows else "No projects.")


@project.command("archive")
@click.argument("name")
def project_archive(name: str) -> None:
    """Archive the project NAME: it and its runs are kept, it leaves the lists and is never deployed again."""
    from playdeck.projects import registry

    with shell_session() as session:
        archived = registry.archive_project(session, shell_principal(), name)
        when = utc_text(archived.archived_at)
    click.echo(f"Project {name} archived ({when} UTC); its runs are kept.")


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


# What playdeck.cli adds to the `playdeck` group.
COMMANDS = (project,)
