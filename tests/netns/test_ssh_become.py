"""Become over SSH: a run logs in to a target as an unprivileged user with the project's SSH key and becomes
root with ``su`` and the project's become password, as the playbook asks (modules piped, see
runners.ssh_connection). The target has accounts of its own (tests.netns.hosts.write_accounts)."""

from __future__ import annotations

import secrets as random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from playdeck import db, projects, secrets
from playdeck.models import Run
from playdeck.runs import events
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from tests.cli.cli_support import playdeck
from tests.conftest import TERMINAL, configure_test_playbooks, queue_run, use_key, wait_for_state
from tests.netns.hosts import Network, SshTarget, ssh_keygen, write_accounts

QUEUE = "dc-become"
USER = "deployer"
PLAYBOOK = f"""\
- name: Log in as {USER}, become root
  hosts: all
  gather_facts: false
  tasks:
    - name: Who logged in
      ansible.builtin.command: id -un
      register: login
      changed_when: false
    - name: Who we become
      ansible.builtin.command: id -un
      become: true
      become_method: ansible.builtin.su
      register: became
      changed_when: false
    - name: Logged in as {USER}, became root
      ansible.builtin.assert:
        that: [login.stdout == "{USER}", became.stdout == "root"]
"""


@pytest.fixture
def target_dir() -> Iterator[Path]:
    """Where the target's files live: its user reads its authorized keys and writes its home there, so not
    below pytest's root-only tmp dirs."""
    made = Path(tempfile.mkdtemp(prefix="pd-become-"))
    made.chmod(0o755)
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


@pytest.fixture
def root_password(network: Network, target_dir: Path, monkeypatch, tmp_path, mariadb_url, redis_url, start_worker):
    """Project "app" (PLAYBOOK) on one SSH target where USER logs in by key and root's password is the returned
    one; the project's SSH key secret is set, its become password is the test's to set; a worker on QUEUE."""
    password = f"root-{random.token_urlsafe(12)}"
    write_accounts(target_dir / "etc", USER, target_dir / "home", password)
    deploy_key = tmp_path / "id_deploy"
    target = SshTarget(
        network,
        network.add_host("t1"),
        target_dir / "sshd",
        authorized_key=ssh_keygen(deploy_key, "playdeck-deploy"),
        accounts=target_dir / "etc",
    )
    use_key(monkeypatch, Fernet.generate_key().decode())
    playbooks, inventories = tmp_path / "playbooks", tmp_path / "inventory"
    playbooks.mkdir()
    (playbooks / "become.yml").write_text(PLAYBOOK)
    inventories.mkdir()
    (inventories / "ssh.ini").write_text(
        f"t1 ansible_host={target.host.address} ansible_user={USER} ansible_python_interpreter=/usr/bin/python3\n"
    )
    configure_test_playbooks(
        monkeypatch, tmp_path, mariadb_url, redis_url, playbook_dir=str(playbooks), inventory_dir=str(inventories)
    )
    with db.session_scope() as session:
        projects.add_project(session, "app", "become.yml", {"prod": "ssh.ini"})
        secrets.set_secret(session, "app", None, "ssh_key", deploy_key.read_text(), who="ops")
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"{target.known_hosts_line()}\n")
    result = playdeck("env", "set", "app", "prod", "--queue", QUEUE, "--known-hosts-file", str(known_hosts))
    assert result.returncode == 0, result.stderr
    start_worker(queues=QUEUE)
    return password


def deploy_with_become_password(password: str) -> tuple[Run, str]:
    """The run's end and its whole log."""
    with db.session_scope() as session:
        secrets.set_secret(session, "app", None, "become_password", password, who="ops")
    run_id = queue_run(RunRequest(project="app", environment="prod")).id
    wait_for_state(run_id, TERMINAL, timeout=120)
    with db.session_scope() as session:
        log = "".join(event.stdout for event in events.events_after(session, run_id))
        return get_run(session, run_id), log


def test_a_run_becomes_root_over_ssh_with_the_projects_become_password(root_password: str):
    run, log = deploy_with_become_password(root_password)

    # The playbook's own assert: logged in as USER, and the become task ran as root.
    assert run.state == "successful", run.reason
    assert "Logged in as deployer, became root" in log and "All assertions passed" in log
    assert root_password not in log


def test_a_wrong_become_password_fails_the_run_and_says_so(root_password: str):
    wrong = f"wrong-{random.token_urlsafe(12)}"

    run, log = deploy_with_become_password(wrong)

    assert run.state == "failed"
    assert "Incorrect su password" in run.reason, run.reason
    assert wrong not in log and root_password not in log
