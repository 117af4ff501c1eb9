"""The second step of executing a run: ansible-runner runs the prepared playbook while the event pump stores
its events and watches the run's control (cancel, heartbeat); afterwards no process of the run and no file
holding one of its secrets is left.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ansible_runner

from playdeck.settings import Settings
from runners import orphans, processes, secret_files, ssh_connection
from runners.event_pump import EventPump
from runners.preparation import Prepared
from runners.spec import RunSpec

# ansible-runner's artifacts go to <private data dir>/artifacts/<ident>.
ARTIFACT_IDENT = "artifacts"
# Set to "" in the playbook's environment: ansible-runner copies the worker's whole environment into the
# processes of the run and into artifacts/<ident>/command, and a playbook has no business with Playdeck's
# own credentials (the secrets key, a password in the DB or broker URL, the CLI's API token, the directory's
# service account).
HIDDEN_ENV = (
    "PLAYDECK_SECRET_KEY",
    "PLAYDECK_DATABASE_URL",
    "PLAYDECK_BROKER_URL",
    "PLAYDECK_TOKEN",
    "PLAYDECK_LDAP_BIND_PASSWORD",
)

LIBRARY_WARNINGS_IGNORED = "ignore:DSA is deprecated"

# Put the ansible installed beside this interpreter first on PATH, even when its bin directory is not
# on PATH (a supervisord program, a venv used without activation).
ANSIBLE_BIN_DIR = str(Path(sys.executable).parent)


@dataclass(frozen=True)
class Executed:
    """How the playbook ended, as ansible-runner and the event pump saw it."""

    runner_status: str
    rc: int | None
    pump: EventPump
    # The pids of processes of the run that were still alive after it and were stopped.
    leftovers: list[int]
    elapsed: float


def run(spec: RunSpec, prepared: Prepared, settings: Settings) -> Executed:
    started = time.monotonic()
    preexisting = processes.descendant_pids()
    stopper = processes.GracefulStop(spare=preexisting, grace_seconds=settings.stop_grace_seconds)
    run_secrets = prepared.secrets
    # Known secrets are masked in each event before it is stored or written as an artifact.
    pump = EventPump(
        spec.run_id, settings, on_stop=stopper.begin, redact=run_secrets.redact_event if run_secrets else None
    )
    pump.start()
    try:
        staged = secret_files.stage(prepared.data_dir, run_secrets, spec.vault_id)
        if pump.stop_requested.is_set():
            # Canceled while it was prepared: the playbook is not started at all.
            runner_status, rc = "canceled", None
        else:
            result = ansible_runner.run(
                **_runner_args(spec, prepared, staged),
                # Our own cancel_callback: without one, ansible-runner installs SIGTERM/SIGINT handlers
                # in the pool child and a warm shutdown's TERM would cancel the deploy.
                # ansible-runner SIGKILLs the playbook's process group once this says so: after the TERM
                # sent by the stopper has had its grace period.
                cancel_callback=stopper.cancel_callback(pump.stop_requested, spec.run_id),
                event_handler=pump.put,
            )
            runner_status, rc = result.status, result.rc
    finally:
        try:
            leftovers = _stop_leftovers(prepared, preexisting)
        finally:
            # ... nor any file holding one of its secrets.
            secret_files.remove(prepared.data_dir, run_secrets)
        pump.close()
    return Executed(runner_status, rc, pump, leftovers, time.monotonic() - started)


def _runner_args(spec: RunSpec, prepared: Prepared, staged: secret_files.Staged) -> dict[str, Any]:
    jail = prepared.jail
    # Relative to where it runs: a git project's "deploy/site.yml" in its checkout.
    playbook = str(prepared.playbook.relative_to(prepared.project_dir))
    playbook_args = [*(["--check"] if spec.check else []), *staged.cmdline]
    return dict(
        private_data_dir=str(prepared.data_dir),
        project_dir=str(prepared.project_dir),
        playbook=playbook,
        inventory=[str(path) for path in prepared.inventories],
        limit=spec.limit or None,
        tags=",".join(spec.tags) or None,
        # In the sandbox: bwrap runs ansible-playbook; ansible-runner adds inventory, limit, extra vars, tags.
        binary=jail.binary if jail else None,
        cmdline=secret_files.join_cmdline(jail.command(playbook, playbook_args) if jail else playbook_args),
        ident=ARTIFACT_IDENT,
        envvars={
            "PATH": f"{ANSIBLE_BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
            # Every ansible process warns at import that cryptography deprecates DSA: a note to Ansible's
            # developers that opened every run's log. Matched by its text, so Python needs no import for it.
            "PYTHONWARNINGS": LIBRARY_WARNINGS_IGNORED,
            # Inherited by every process of the run, in any session: lets a sweep find them later.
            orphans.RUN_ENV: orphans.run_tag(spec.run_id),
            # Host keys checked against the environment's, connections reused, modules pipelined.
            **prepared.ssh.envvars,
            **prepared.envvars,
            **dict.fromkeys(HIDDEN_ENV, ""),
        },
        # Extra vars and settings are in env/ already (runners.preparation); passwords and the SSH key stay
        # in memory.
        suppress_env_files=True,
        passwords=staged.passwords or None,
        ssh_key=staged.ssh_key,
        quiet=True,
        timeout=spec.timeout,
    )


def _stop_leftovers(prepared: Prepared, preexisting: frozenset[int]) -> list[int]:
    ssh_connection.close(prepared.ssh)
    if prepared.secrets.ssh_key:
        processes.stop_ssh_agents(spare=preexisting)
    if prepared.jail is not None:
        processes.reap_exited_children()
    # Whatever ansible-runner reports, no process of this run may outlive it...
    return processes.stop_descendants(spare=preexisting)
