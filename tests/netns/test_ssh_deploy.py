"""Deploys over SSH to target "machines" (namespaces with an sshd each): key from the project's secrets, host
keys from the environment, one SSH connection per host for the whole run."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from playdeck import db, projects, secrets
from playdeck.models import Run
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from playdeck.settings import Settings
from tests.cli.cli_support import playdeck
from tests.conftest import REPO_ROOT, TERMINAL, configure, queue_run, use_key, wait_for_state
from tests.netns.hosts import Network, SshTarget, ssh_keygen

QUEUE = "dc-ssh"  # not one of the default queues: routed by the environment
# The sample playbook's tasks that send a file to the target (copy, template).
FILE_SENDING_TASKS = 2


@dataclass
class Fleet:
    settings: Settings
    targets: list[SshTarget]

    def release(self, target: SshTarget) -> Path:
        return self.settings.apps_dir / "app" / "prod" / target.host.name / "current" / "VERSION"


@pytest.fixture
def fleet(network: Network, monkeypatch, tmp_path, mariadb_url, redis_url, start_worker) -> Fleet:
    """Project "app" (the sample playbook), environment "prod" on 3 SSH targets t1..t3, routed to QUEUE, its
    known hosts set with the CLI; a worker on this host consuming QUEUE."""
    use_key(monkeypatch, Fernet.generate_key().decode())
    inventory_dir = tmp_path / "inventory"
    settings = configure(
        monkeypatch,
        seed_sample=False,
        data_dir=str(tmp_path / "data"),
        database_url=mariadb_url,
        broker_url=redis_url,
        playbook_dir=str(REPO_ROOT / "playbooks"),
        inventory_dir=str(inventory_dir),
    )
    deploy_key = tmp_path / "id_deploy"
    public = ssh_keygen(deploy_key, "playdeck-deploy")
    targets = [
        SshTarget(network, network.add_host(f"t{n}"), tmp_path / f"sshd-t{n}", authorized_key=public) for n in (1, 2, 3)
    ]
    inventory_dir.mkdir()
    # Each target's releases go to apps/app/prod/<inventory name>/ (the targets share this filesystem).
    hosts = "".join(f"{t.host.name} ansible_host={t.host.address}\n" for t in targets)
    (inventory_dir / "ssh.ini").write_text(
        f"[web]\n{hosts}\n[all:vars]\nansible_user=root\nansible_python_interpreter=/usr/bin/python3\n"
    )
    with db.session_scope() as session:
        projects.add_project(session, "app", "sampleapp/deploy.yml", {"prod": "ssh.ini"})
        secrets.set_secret(session, "app", None, "ssh_key", deploy_key.read_text(), who="ops")
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("".join(f"{t.known_hosts_line()}\n" for t in targets))
    result = playdeck("env", "set", "app", "prod", "--queue", QUEUE, "--known-hosts-file", str(known_hosts))
    assert result.returncode == 0, result.stderr
    start_worker(queues=QUEUE)
    return Fleet(settings, targets)


def deploy(version: str) -> Run:
    run_id = queue_run(RunRequest(project="app", environment="prod", version=version)).id
    wait_for_state(run_id, TERMINAL, timeout=120)
    with db.session_scope() as session:
        return get_run(session, run_id)


def accepted_logins(target: SshTarget) -> int:
    return target.log.read_text(errors="replace").count("Accepted publickey for root")


def sftp_requests(target: SshTarget) -> int:
    return target.log.read_text(errors="replace").count("subsystem request for sftp")


def test_deploy_over_ssh_to_three_targets(fleet: Fleet):
    run = deploy("2.0.0")

    assert run.state == "successful", run.reason
    assert run.queue == QUEUE and run.worker_host == socket.gethostname()
    for target in fleet.targets:
        assert fleet.release(target).read_text() == "2.0.0\n"
        # Every task of the run went over one SSH connection per host: no handshake per task.
        assert accepted_logins(target) == 1, target.log.read_text()
        # Modules were piped to the target's Python: only the files that copy and template send went over
        # sftp (2 requests each; 22 in all without pipelining).
        assert sftp_requests(target) <= 2 * FILE_SENDING_TASKS, target.log.read_text()
    # The SSH key went nowhere on disk, and the masters were closed at the end (no leftover processes).
    data_dir = fleet.settings.runs_dir / str(run.id) / "attempt-1"
    assert not (data_dir / "env" / "ssh_key").exists()
    assert "leftover" not in run.reason


def test_a_changed_host_key_fails_the_run_with_a_clear_reason(fleet: Fleet):
    changed = fleet.targets[1]
    changed.change_host_key()  # after its known key was stored

    run = deploy("3.0.0")

    assert run.state == "failed"
    problem = f"SSH host key check failed for {changed.host.name}: the host key it presented has CHANGED"
    assert run.reason.startswith(problem), run.reason
    # The impostor got nothing: no login, no new release; the other targets were deployed.
    assert "Accepted publickey" not in changed.log.read_text(errors="replace")
    assert not fleet.release(changed).exists()
    assert [fleet.release(t).read_text() for t in fleet.targets if t is not changed] == ["3.0.0\n", "3.0.0\n"]
