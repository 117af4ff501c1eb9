"""Runs of a git project, executed by a real worker with ansible-runner: each run gets its own checkout of the
commit it was queued with, playbook, inventory and group_vars all from that commit; what is wrong with the source
ends the run in error with a reason saying what."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from playdeck import db
from playdeck.models import Run
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from testing.git_servers import RepoBuilder
from tests.cli.cli_support import wait_until
from tests.conftest import TERMINAL, queue_run, wait_for_state
from tests.git.projects import add_git_project

PLAYBOOK = """\
- name: Show what this run sees
  hosts: all
  gather_facts: false
  tasks:
    - name: Say it started
      ansible.builtin.file:
        path: "{{ out_dir }}/started-{{ playdeck_run_id }}"
        state: touch
      when: release_file is defined

    - name: Wait for the test's go-ahead
      ansible.builtin.wait_for:
        path: "{{ release_file }}"
        timeout: 120
      when: release_file is defined

    - name: Record the checkout's file, the inventory's variables and the run's source
      ansible.builtin.copy:
        dest: "{{ out_dir }}/{{ playdeck_run_id }}-{{ inventory_hostname }}.json"
        content: "{{ record | to_json }}"
      vars:
        record:
          app: "{{ lookup('file', playbook_dir ~ '/../app.txt') }}"
          greeting: "{{ greeting }}"
          colour: "{{ colour | default('') }}"
          ref: "{{ playdeck_ref }}"
          commit: "{{ playdeck_commit }}"
"""
INVENTORY = """\
[app]
{host}

[all:vars]
ansible_connection=local
ansible_python_interpreter={{{{ ansible_playbook_python }}}}
"""


def release(base: Path, name: str, host: str) -> dict[str, str]:
    return {
        "deploy/site.yml": PLAYBOOK,
        "deploy/inventory.ini": INVENTORY.format(host=host),
        "deploy/group_vars/all.yml": f"greeting: hello from {name}\n",
        "app.txt": f"app {name}\n",
    }


@pytest.fixture
def repo(tmp_path) -> RepoBuilder:
    """main: "one" (tag v1, inventory host "alpha") then "two" (tag v2, host "beta")."""
    builder = RepoBuilder(tmp_path / "repos", "shop")
    builder.commit("one", release(tmp_path, "one", "alpha"))
    builder.tag("v1", "release one")
    builder.commit("two", release(tmp_path, "two", "beta"))
    builder.tag("v2")
    return builder


@pytest.fixture
def shop(test_playbooks, repo) -> str:
    with db.session_scope() as session:
        add_git_project(session, "shop", repo.url, lock_deploys=False, git_cache_seconds=0)
    return "shop"


def queue(ref: str = "", **extra_vars) -> Run:
    request = RunRequest("shop", "staging", ref=ref, requested_by="ci", extra_vars=extra_vars)
    return queue_run(request)


def records(out: Path, run_id: int) -> dict[str, dict]:
    return {path.stem.split("-", 1)[1]: json.loads(path.read_text()) for path in out.glob(f"{run_id}-*.json")}


def reason(run_id: int) -> str:
    with db.session_scope() as session:
        return get_run(session, run_id).reason


def test_two_commits_run_side_by_side_each_in_its_own_checkout(shop, repo, start_worker, tmp_path):
    start_worker(concurrency=2)
    out, go = tmp_path / "out", tmp_path / "go"
    out.mkdir()
    first = queue("v1", out_dir=str(out), release_file=str(go))
    second = queue("v2", out_dir=str(out), release_file=str(go))
    # Both have checked out their commit and started before either goes on.
    wait_until(lambda: all((out / f"started-{run.id}").exists() for run in (first, second)), 120, "both runs started")
    go.touch()
    assert wait_for_state(first.id, TERMINAL) == "successful", reason(first.id)
    assert wait_for_state(second.id, TERMINAL) == "successful", reason(second.id)

    # Inventory (its host) and group_vars of each run's own commit, playdeck_ref and playdeck_commit.
    assert records(out, first.id) == {
        "alpha": {"app": "app one", "greeting": "hello from one", "colour": "", "ref": "v1", "commit": repo.head("v1")}
    }
    assert records(out, second.id) == {
        "beta": {"app": "app two", "greeting": "hello from two", "colour": "", "ref": "v2", "commit": repo.head("v2")}
    }


def test_a_run_executes_its_queued_commit_after_the_branch_moved_with_that_commits_inventory(
    shop, repo, start_worker, tmp_path
):
    out = tmp_path / "out"
    out.mkdir()
    run = queue(out_dir=str(out))  # main, at "two"
    repo.commit("three", release(tmp_path, "three", "gamma"))
    start_worker()
    assert wait_for_state(run.id, TERMINAL) == "successful", reason(run.id)
    assert records(out, run.id) == {
        "beta": {"app": "app two", "greeting": "hello from two", "colour": "", "ref": "main", "commit": repo.head("v2")}
    }


def test_an_inline_inventory_and_the_environments_variables_reach_the_run(shop, repo, start_worker, tmp_path):
    from playdeck.models import Environment

    with db.session_scope() as session:
        environment = session.query(Environment).filter_by(name="staging").one()
        environment.inline_inventory = INVENTORY.format(host="inline-host")
        environment.variables_yaml = "colour: blue\n"
    out = tmp_path / "out"
    out.mkdir()
    run = queue("v1", out_dir=str(out))
    start_worker()
    assert wait_for_state(run.id, TERMINAL) == "successful", reason(run.id)
    assert records(out, run.id)["inline-host"]["colour"] == "blue"


def test_a_commit_force_pushed_away_after_queueing_ends_the_run_saying_so(shop, repo, start_worker, tmp_path):
    repo.commit("three", release(tmp_path, "three", "gamma"))  # on no tag
    run = queue()
    removed, _ = repo.rewrite_last("three, again")
    assert removed == run.commit_sha
    start_worker()
    assert wait_for_state(run.id, TERMINAL) == "error"
    assert "force-push removed it" in reason(run.id) and run.commit_sha[:12] in reason(run.id)


def test_a_commit_its_branch_was_force_pushed_away_from_runs_while_another_branch_keeps_it(
    shop, repo, start_worker, tmp_path
):
    out = tmp_path / "out"
    out.mkdir()
    repo.commit("three", release(tmp_path, "three", "gamma"))  # on no tag
    run = queue(out_dir=str(out))
    repo.branch("keep", switch=False)
    removed, _ = repo.rewrite_last("three, again")
    assert removed == run.commit_sha
    start_worker()
    assert wait_for_state(run.id, TERMINAL) == "successful", reason(run.id)
    assert records(out, run.id)["gamma"]["commit"] == removed


@pytest.mark.parametrize(
    ("files", "symlinks", "expected"),
    [
        ({}, {"deploy/site.yml": "/etc/hostname"}, "playbook 'deploy/site.yml' leaves the checkout"),
        ({"app.txt": "x"}, {"deploy/site.yml": "../../../../../etc/hostname"}, "leaves the checkout"),
        ({"deploy/other.yml": "- hosts: all\n"}, {}, "playbook 'deploy/site.yml' not found in the checkout of commit"),
    ],
)
def test_a_playbook_leaving_the_checkout_or_missing_at_the_commit_ends_the_run_in_error(
    test_playbooks, start_worker, tmp_path, files, symlinks, expected
):
    repo = RepoBuilder(tmp_path / "repos", "bad")
    repo.commit("bad playbook", {"deploy/inventory.ini": INVENTORY.format(host="alpha"), **files}, symlinks)
    with db.session_scope() as session:
        add_git_project(session, "shop", repo.url)
    run = queue()
    start_worker()
    assert wait_for_state(run.id, TERMINAL) == "error"
    assert expected in reason(run.id)


def test_a_galaxy_server_that_is_down_fails_the_run_with_that_reason(shop, repo, start_worker, tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens there once closed
    requirements = f"- src: https://127.0.0.1:{port}/roles/web.tar.gz\n  name: web\n"
    repo.commit("needs a role", {"roles/requirements.yml": requirements})
    run = queue()
    start_worker()
    assert wait_for_state(run.id, TERMINAL, timeout=180) == "error"
    assert "installing roles/requirements.yml with ansible-galaxy failed" in reason(run.id)


def test_a_worker_with_an_empty_mirror_fetches_the_commit_it_has_never_seen(
    shop, repo, start_worker, tmp_path, monkeypatch
):
    """A second worker host, played by a worker with a data dir of its own (its own, empty, mirror)."""
    out = tmp_path / "out"
    out.mkdir()
    run = queue("v1", out_dir=str(out))
    other_host = tmp_path / "host2"
    monkeypatch.setenv("PLAYDECK_DATA_DIR", str(other_host))
    assert not (other_host / "git").exists()
    start_worker()
    assert wait_for_state(run.id, TERMINAL) == "successful", reason(run.id)
    assert records(out, run.id)["alpha"]["commit"] == repo.head("v1")
    # Its own mirror, and the run's checkout in its own data dir.
    assert list((other_host / "git").glob("project-*.git"))
    assert (other_host / "runs" / str(run.id) / "attempt-1" / "project" / "app.txt").read_text() == "app one\n"
