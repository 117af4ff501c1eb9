"""`playdeck project set` changes a project's limits and policies, and they take effect on new runs."""

from __future__ import annotations

import json

import pytest

from playdeck import db, projects
from playdeck.errors import ValidationError
from playdeck.runs.requests import RunRequest, request_run
from tests.cli.cli_support import playdeck


def test_project_set_changes_policies_that_requests_then_obey(embedded):
    result = playdeck(
        "project", "set", "sampleapp", "--run-timeout", "90", "--no-lock-deploys", "--supersede", "--retry-lost", "2"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "run_timeout_seconds": 90,
        "idle_timeout_seconds": 600,
        "lock_deploys": False,
        "supersede_queued": True,
        "retry_lost_runs": 2,
        "allow_free_extra_vars": False,
    }
    with pytest.raises(ValidationError, match="at most 90 s"), db.session_scope() as session:
        request_run(session, RunRequest(project="sampleapp", environment="staging", timeout=91))


def test_project_set_unknown_project_or_bad_value_exits_2(embedded):
    unknown = playdeck("project", "set", "nope", "--supersede")
    assert unknown.returncode == 2 and "project 'nope' does not exist" in unknown.stderr
    bad = playdeck("project", "set", "sampleapp", "--run-timeout", "0")
    assert bad.returncode == 2 and "--run-timeout" in bad.stderr
    too_many = playdeck("project", "set", "sampleapp", "--retry-lost", "6")
    assert too_many.returncode == 2 and "retry_lost_runs: must be a whole number from 0 (off) to 5" in too_many.stderr


def test_project_set_free_extra_vars_lets_a_form_take_undeclared_names(embedded):
    free = RunRequest(project="sampleapp", environment="staging", extra_vars={"greeting": "hi"})
    with pytest.raises(ValidationError, match="'greeting' is not a variable"), db.session_scope() as session:
        request_run(session, free)
    result = playdeck("project", "set", "sampleapp", "--free-extra-vars")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["allow_free_extra_vars"] is True
    with db.session_scope() as session:
        assert request_run(session, free).extra_vars["greeting"] == "hi"
    # The declared fields keep their rules.
    bounded = RunRequest(project="sampleapp", environment="staging", extra_vars={"keep_releases": 21})
    with pytest.raises(ValidationError, match="keep_releases: must be between 1 and 20"), db.session_scope() as session:
        request_run(session, bounded)


def test_project_add_show_list_edit_archive_a_git_project(embedded, tmp_path, monkeypatch):
    from cryptography.fernet import Fernet

    from tests.conftest import use_key
    from tests.core.test_project_registry import git_repository
    from tests.core.test_secrets import openssh_key

    use_key(monkeypatch, Fernet.generate_key().decode())
    url = git_repository(tmp_path / "shop")
    key_file = tmp_path / "deploy_key"
    key_file.write_text(openssh_key())
    inventory = tmp_path / "qa.ini"
    inventory.write_text("[web]\nqa1 ansible_host=127.0.0.1\n")
    added = playdeck(
        "project", "add", "shop", "--git", url, "--branch", "main", "--playbook", "deploy/site.yml",
        "--env", "staging=deploy/inventories/staging.ini", "--env", "production=deploy/inventories/production.ini",
        "--protected", "production", "--description", "The shop", "--cache-seconds", "30", "--submodules",
        "--inline-env", f"qa={inventory}", "--deploy-on-push", "main=staging",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    shown = json.loads(playdeck("project", "show", "shop").stdout)
    assert shown == json.loads(added.stdout)
    assert (shown["source_kind"], shown["git_url"], shown["git_branch"]) == ("git", url, "main")
    assert (shown["git_cache_seconds"], shown["git_submodules"], shown["description"]) == (30, True, "The shop")
    assert shown["branch_environments"] == {"main": "staging"}
    environments = {env["name"]: env for env in shown["environments"]}
    assert environments["production"]["protected"] and not environments["staging"]["protected"]
    assert environments["qa"]["inline_inventory"] == inventory.read_text()
    listed = playdeck("project", "list")
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    assert listed.returncode == 0 and rows["shop"][1:4] == ["git", url, "main"] and "sampleapp" in rows

    # A file:// URL takes no credential; an ssh one does (from a file, or stdin: never argv).
    edited = playdeck("project", "edit", "shop", "--git", "git@git.example.test:shop.git", "--git-key-file", "-",
                      "--branch", "release", "--remove-env", "qa", input=key_file.read_text())  # fmt: skip
    assert edited.returncode == 0, edited.stderr
    shown = json.loads(edited.stdout)
    assert shown["credentials"]["git"] == "ssh_key" and shown["git_branch"] == "release"
    assert "PRIVATE KEY" not in edited.stdout and [env["name"] for env in shown["environments"]] == [
        "production",
        "staging",
    ]

    archived = playdeck("project", "archive", "shop")
    assert archived.returncode == 0 and "archived" in archived.stdout
    assert "shop" not in playdeck("project", "list").stdout
    assert "shop" in playdeck("project", "list", "--archived").stdout
    with pytest.raises(Exception, match="archived"), db.session_scope() as session:
        request_run(session, RunRequest(project="shop", environment="staging"))


def test_project_add_and_edit_refusals_exit_2_naming_the_field(embedded, tmp_path):
    base = ("project", "add", "shop", "--git", "https://git.example.test/shop.git", "--branch", "main")
    env = ("--env", "staging=deploy/staging.ini")
    escaped = playdeck(*base, "--playbook", "../../etc/passwd", *env)
    assert escaped.returncode == 2 and "playbook: '../../etc/passwd' must stay inside" in escaped.stderr
    injected = playdeck("project", "add", "shop", "--git", "--upload-pack=touch /tmp/x", "--branch", "main",
                        "--playbook", "site.yml", *env)  # fmt: skip
    assert injected.returncode == 2 and "git_url: must not start with '-'" in injected.stderr
    broken = tmp_path / "broken.ini"
    broken.write_text("[web\nweb1 = \n")
    inline = playdeck(*base, "--playbook", "site.yml", "--inline-env", f"staging={broken}")
    assert inline.returncode == 2 and "environments.staging.inline_inventory: ansible-inventory:" in inline.stderr
    missing = playdeck(*base, "--playbook", "site.yml", *env, "--git-token-file", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    assert playdeck("project", "edit", "sampleapp").returncode == 2
    assert playdeck("project", "edit", "nope", "--description", "x").returncode == 2
    built_in = playdeck("project", "archive", "dns")
    assert built_in.returncode == 2 and "does not exist" in built_in.stderr
    with db.session_scope() as session:
        assert [project.name for project in projects.list_projects(session)] == ["sampleapp"]
