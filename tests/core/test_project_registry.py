"""Registering and editing projects (playdeck.projects.registry): what is refused (paths that leave the
source, URLs that would run a command, broken inline inventories, credentials that do not suit the URL) with
the field named, who may do what, archiving, and secrets that stay encrypted and out of every listing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from playdeck import db, projects, secrets
from playdeck.auth import users
from playdeck.auth.permissions import Principal
from playdeck.errors import Conflict, Forbidden, ValidationError
from playdeck.models import AuditEvent
from playdeck.projects import registry
from playdeck.projects.changes import parse_changes
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest, request_run
from tests.conftest import make_user, use_key
from tests.core.test_secrets import openssh_key

INVENTORY = "[web]\nweb1 ansible_host=127.0.0.1\n"
TOKEN = "glpat-token-0123456789"


def git_repository(where: Path) -> str:
    """A real repository with one commit; its file:// URL."""
    where.mkdir()
    for command in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "first"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *command], cwd=where, check=True)
    return f"file://{where}"


def principal(name: str = "admin", role: str = "admin", projects: tuple[str, ...] = ()) -> Principal:
    make_user(name, role, projects=projects)
    with db.session_scope() as session:
        return users.principal(users.get_user(session, name))


def create(body: dict[str, Any], who: Principal | None = None) -> dict[str, Any]:
    who = who or principal()
    changes = parse_changes(body, allow_file_urls=who.role == "admin")
    with db.session_scope() as session:
        return registry.describe(session, registry.create_project(session, who, changes))


def update(name: str, body: dict[str, Any], who: Principal | None = None) -> dict[str, Any]:
    who = who or principal()
    changes = parse_changes(body, allow_file_urls=who.role == "admin")
    with db.session_scope() as session:
        return registry.describe(session, registry.update_project(session, who, name, changes))


def shop(url: str = "https://git.example.test/shop.git", **more: Any) -> dict[str, Any]:
    return {
        "name": "shop",
        "source_kind": "git",
        "git_url": url,
        "git_branch": "main",
        "playbook": "deploy/site.yml",
        "environments": {
            "staging": {"inventory": "deploy/inventories/staging.ini"},
            "production": {"inventory": "deploy/inventories/production.ini", "protected": True},
        },
        **more,
    }


@pytest.fixture
def keyed(embedded, monkeypatch):
    use_key(monkeypatch, Fernet.generate_key().decode())


def test_a_git_project_is_registered_shown_and_audited(keyed, tmp_path):
    url = git_repository(tmp_path / "shop")
    shown = create(shop(url, git_cache_seconds=120, git_submodules=True, branch_environments={"main": "staging"}))
    assert shown["source_kind"] == "git" and shown["git_url"] == url and shown["git_branch"] == "main"
    assert (shown["git_cache_seconds"], shown["git_submodules"]) == (120, True)
    assert shown["branch_environments"] == {"main": "staging"}
    assert {env["name"]: env["protected"] for env in shown["environments"]} == {"production": True, "staging": False}
    assert shown["credentials"] == {"git": None, "webhook_secret": False, "vault_password": False}
    with db.session_scope() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "project.create"))
        assert (event.actor, event.target, event.details["git_url"]) == ("admin", "shop", url)
        listed = [project.name for project in projects.list_projects(session)]
    assert listed == ["sampleapp", "shop"]


@pytest.mark.parametrize(
    ("path", "reason"),
    [("../outside.yml", "no '..'"), ("deploy/../../x.yml", "no '..'"), ("/etc/passwd", "not absolute"),
     ("~/site.yml", "not absolute"), ("-e@/etc/passwd", "starts with '-'"), ("deploy/\nsite.yml", "control")],
)  # fmt: skip
def test_playbook_and_inventory_paths_stay_inside_the_source(keyed, path, reason):
    with pytest.raises(ValidationError, match=reason) as refused:
        create(shop(playbook=path))
    assert refused.value.field == "playbook"
    body = shop()
    body["environments"]["staging"]["inventory"] = path
    with pytest.raises(ValidationError, match=reason) as refused:
        create(body)
    assert refused.value.field == "environments.staging.inventory"


def test_a_directory_project_needs_its_files_on_the_server_and_no_symlink_out(embedded, monkeypatch, tmp_path):
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "site.yml").write_text("- hosts: all\n  tasks: []\n")
    (tmp_path / "secret.yml").write_text("- hosts: all\n")
    (playbooks / "escape.yml").symlink_to(tmp_path / "secret.yml")
    monkeypatch.setenv("PLAYDECK_PLAYBOOK_DIR", str(playbooks))
    from playdeck.settings import get_settings

    get_settings.cache_clear()
    body = {"name": "local", "playbook": "missing.yml", "environments": {"dev": {"inventory": "sampleapp/staging.ini"}}}
    with pytest.raises(ValidationError, match="'missing.yml' not found"):
        create(body)
    with pytest.raises(ValidationError, match="points outside"):
        create({**body, "playbook": "escape.yml"})
    with pytest.raises(ValidationError, match="'nope.ini' not found") as refused:
        create({**body, "playbook": "site.yml", "environments": {"dev": {"inventory": "nope.ini"}}})
    assert refused.value.field == "environments.dev.inventory"
    assert create({**body, "playbook": "site.yml"})["source_kind"] == "directory"


@pytest.mark.parametrize(
    "url",
    ["--upload-pack=touch /tmp/pwned", "-c core.sshCommand=touch", "ext::sh -c touch% /tmp/pwned",
     "fd::17", "ssh://-oProxyCommand=touch%20x/repo", "git@-oProxyCommand=x:repo", "git@host:-repo.git",
     "http://git.example.test/shop.git", "git://git.example.test/shop.git", "/srv/repo.git", "../repo",
     "https://user:secret@git.example.test/shop.git", "https://git.example.test/shop.git\n--upload-pack=x",
     "https:///shop.git", "ftp://git.example.test/shop.git"],
)  # fmt: skip
def test_git_urls_that_could_run_a_command_or_carry_a_credential_are_refused(keyed, url):
    with pytest.raises(ValidationError) as refused:
        create(shop(url))
    assert refused.value.field == "git_url"
    with db.session_scope() as session:
        assert [project.name for project in projects.list_projects(session)] == ["sampleapp"]


def test_the_accepted_url_forms(keyed):
    for number, url in enumerate(
        ["https://git.example.test/shop.git", "https://git.example.test:8443/team/shop", "ssh://git@git.example.test/shop.git",
         "ssh://git@[2001:db8::1]:2222/shop.git", "git@git.example.test:team/shop.git"]
    ):  # fmt: skip
        assert create({**shop(url), "name": f"shop{number}"})["git_url"] == url


def test_file_urls_are_for_admins_only(keyed, tmp_path):
    url = git_repository(tmp_path / "shop")
    with pytest.raises(ValidationError, match="file:// URLs .* are for administrators only"):
        parse_changes(shop(url), allow_file_urls=False)
    create(shop("https://git.example.test/shop.git"))
    manager = principal("rita", "release_manager", projects=("shop",))
    with pytest.raises(ValidationError, match="file:// URLs .* are for administrators only"):
        update("shop", {"git_url": url}, manager)
    assert update("shop", {"git_url": url})["git_url"] == url


def test_git_refs_that_look_like_options_or_bad_names_are_refused(keyed):
    for branch in ("-f", "--upload-pack=x", "main..dev", "a b", "feature/", "x.lock", "@", "a~1", "refs/@{0}"):
        with pytest.raises(ValidationError) as refused:
            create(shop(git_branch=branch))
        assert refused.value.field == "git_branch", branch
    with pytest.raises(ValidationError) as refused:
        create(shop(branch_environments={"--force": "staging"}))
    assert refused.value.field == "branch_environments"
    with pytest.raises(ValidationError, match="no environment 'qa'") as refused:
        create(shop(branch_environments={"main": "qa"}))
    assert refused.value.field == "branch_environments.main"


def test_an_inline_inventory_is_checked_by_ansible_before_it_is_saved(keyed):
    body = shop()
    body["environments"]["staging"] = {"inline_inventory": "[web\nweb1 = \n"}
    with pytest.raises(ValidationError, match="ansible-inventory: .*not enough values") as refused:
        create(body)
    assert refused.value.field == "environments.staging.inline_inventory"
    body["environments"]["staging"] = {"inline_inventory": "all:\n  hosts:\n    a: {x: 1\n"}
    with pytest.raises(ValidationError, match="YAML parsing failed"):
        create(body)
    # A lookup in a variable is text to --list: nothing runs while checking.
    marker = Path("/tmp") / f"playdeck-inventory-{id(body)}"
    pwn = f"[web]\nweb1 x=\"{{{{ lookup('pipe', 'touch {marker}') }}}}\"\n"
    body["environments"]["staging"] = {"inline_inventory": pwn}
    shown = create(body)
    assert not marker.exists()
    staging = next(env for env in shown["environments"] if env["name"] == "staging")
    assert (staging["inventory"], staging["inventory_inline"], staging["inline_inventory"]) == ("", True, pwn)
    yaml_inventory = "all:\n  hosts:\n    web2:\n      ansible_host: 127.0.0.1\n"
    updated = update("shop", {"environments": {"production": {"inline_inventory": yaml_inventory}}})
    production = next(env for env in updated["environments"] if env["name"] == "production")
    assert production["inline_inventory"] == yaml_inventory and production["protected"] is True
    with pytest.raises(ValidationError, match="lists no host"):
        update("shop", {"environments": {"production": {"inline_inventory": "[web]\n"}}})


def test_environment_variables_are_a_bounded_yaml_mapping_of_allowed_names(keyed):
    for variables, reason in (
        ("- a\n- b\n", "must be a YAML mapping"),
        ("playdeck_version: 1\n", "reserved"),
        ("ansible_ssh_common_args: -oProxyCommand=x\n", "reserved"),
        ("a: &x [1]\nb: *x\n", "aliases"),
        ("a: [" * 30 + "]" * 30, "nested more than"),
    ):
        body = shop()
        body["environments"]["staging"]["variables_yaml"] = variables
        with pytest.raises(ValidationError, match=reason) as refused:
            create(body)
        assert refused.value.field == "environments.staging.variables_yaml"
    body = shop()
    body["environments"]["staging"]["variables_yaml"] = "app_port: 8080\nfeatures: [a, b]\n"
    staging = next(env for env in create(body)["environments"] if env["name"] == "staging")
    assert staging["variables_yaml"] == "app_port: 8080\nfeatures: [a, b]\n"


def test_permissions_release_manager_without_grant_with_grant_and_admin(keyed):
    create(shop())
    outsider = principal("olga", "release_manager")
    manager = principal("rita", "release_manager", projects=("shop",))
    developer = principal("dev", "developer", projects=("shop",))
    with pytest.raises(Forbidden, match="not granted"):
        update("shop", {"description": "mine"}, outsider)
    with pytest.raises(Forbidden, match="release_manager role or higher"):
        update("shop", {"description": "mine"}, developer)
    assert update("shop", {"description": "ours", "git_branch": "release"}, manager)["description"] == "ours"
    with pytest.raises(Forbidden, match="admin role"):
        create({**shop(), "name": "other"}, manager)
    with pytest.raises(Forbidden, match="admin role"), db.session_scope() as session:
        registry.archive_project(session, manager, "shop")
    # The sample is a directory project: its paths name files on the server, for admins only.
    make_user("rita", "release_manager", projects=("sampleapp",))
    manager = principal("rita", "release_manager")
    with pytest.raises(Forbidden, match="only admins change the source or the paths"):
        update("sampleapp", {"playbook": "dns/regenerate.yml"}, manager)
    assert update("sampleapp", {"description": "the sample"}, manager)["description"] == "the sample"
    assert update("sampleapp", {"playbook": "sampleapp/deploy.yml"})["playbook"] == "sampleapp/deploy.yml"
    with db.session_scope() as session:
        actions = list(session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "project.update")))
    assert actions == ["rita", "rita", "admin"]


def test_built_in_projects_cannot_be_edited_or_archived(keyed):
    from playdeck.dns.scheduling import dns_project

    with db.session_scope() as session:
        dns_project(session)
    with pytest.raises(Forbidden, match="built into Playdeck"):
        update("dns", {"description": "mine"})
    with pytest.raises(Forbidden, match="built into Playdeck"), db.session_scope() as session:
        registry.archive_project(session, principal(), "dns")
    with pytest.raises(ValidationError, match="built into Playdeck"):
        create({**shop(), "name": "dns"})


def test_an_archived_project_keeps_its_runs_is_hidden_and_cannot_be_deployed(keyed):
    with db.session_scope() as session:
        run_id = request_run(session, RunRequest(project="sampleapp", environment="staging")).id
    with db.session_scope() as session:
        registry.archive_project(session, principal(), "sampleapp")
    with db.session_scope() as session:
        assert projects.list_projects(session) == []
        assert [p.name for p in projects.list_projects(session, include_archived=True)] == ["sampleapp"]
        assert get_run(session, run_id).project.name == "sampleapp"
    with pytest.raises(Conflict, match="archived: it cannot be deployed"), db.session_scope() as session:
        request_run(session, RunRequest(project="sampleapp", environment="staging"))
    with pytest.raises(Conflict, match="archived"):
        update("sampleapp", {"description": "x"})


def test_an_environment_with_runs_is_not_removed(keyed):
    with db.session_scope() as session:
        request_run(session, RunRequest(project="sampleapp", environment="staging"))
    with pytest.raises(Conflict, match="has runs"):
        update("sampleapp", {"environments": {"staging": None}})
    shown = update("sampleapp", {"environments": {"production": None}})
    assert [env["name"] for env in shown["environments"]] == ["staging"]


def test_git_credentials_are_encrypted_write_only_and_suit_the_url(keyed):
    key = openssh_key()
    with pytest.raises(ValidationError, match="an SSH key is for ssh") as refused:
        create(shop(git_ssh_key=key))
    assert refused.value.field == "git_ssh_key"
    with pytest.raises(ValidationError, match="not an SSH private key") as refused:
        create(shop("git@git.example.test:shop.git", git_ssh_key="not a key"))
    assert refused.value.field == "git_ssh_key"
    shown = create(shop(git_username="deployer", git_password=TOKEN, webhook_secret="w" * 32))
    assert shown["credentials"] == {"git": "password", "webhook_secret": True, "vault_password": False}
    assert shown["git_username"] == "deployer" and TOKEN not in json.dumps(shown)
    # Another URL and a key: the password goes, a project fetches with one credential.
    shown = update("shop", {"git_url": "ssh://git@git.example.test/shop.git", "git_ssh_key": key})
    assert shown["credentials"]["git"] == "ssh_key"
    with db.session_scope() as session:
        project = projects.get_project(session, "shop")
        assert secrets.project_secret(session, project.id, secrets.GIT_SSH_KEY) == key.strip() + "\n"
        assert secrets.project_secret(session, project.id, secrets.GIT_PASSWORD) is None
        # A playbook never gets the project's own secrets.
        assert not secrets.secrets_for_run(session, project.id, project.environments[0].id)
        stored = "\n".join(str(row) for row in session.execute(text("SELECT * FROM secrets")))
        stored += "\n".join(str(row) for row in session.execute(text("SELECT * FROM audit_events")))
    assert "PRIVATE KEY" not in stored and TOKEN not in stored and "w" * 32 not in stored
    with pytest.raises(ValidationError, match="password or token is for https"):
        update("shop", {"git_password": TOKEN})
    assert update("shop", {"git_ssh_key": None})["credentials"]["git"] is None


def test_patch_changes_only_what_it_names_and_refuses_unknown_or_renames(keyed):
    create(shop(description="the shop"))
    shown = update("shop", {"git_cache_seconds": 0, "environments": {"qa": {"inventory": "deploy/qa.ini"}}})
    assert shown["description"] == "the shop" and shown["git_cache_seconds"] == 0
    assert [env["name"] for env in shown["environments"]] == ["production", "qa", "staging"]
    for body, field in (
        ({"name": "other"}, "name"),
        ({"colour": "red"}, "body"),
        ({"git_cache_seconds": -1}, "git_cache_seconds"),
        ({"git_submodules": "yes"}, "git_submodules"),
        ({"environments": {"qa": {"inventory": "a.ini", "inline_inventory": INVENTORY}}}, "environments.qa.inventory"),
        ({"environments": {"new-env": {"protected": True}}}, "environments.new-env"),
        ({"environments": {"staging": {"queue": "no spaces"}}}, "environments.staging.queue"),
        ({"environments": {"staging": {"known_hosts": "h ssh-ed25519 !!"}}}, "environments.staging.known_hosts"),
        ({"source_kind": "svn"}, "source_kind"),
        ({"source_kind": "directory"}, "playbook"),
    ):  # fmt: skip
        with pytest.raises(ValidationError) as refused:
            update("shop", body)
        assert refused.value.field == field, body
