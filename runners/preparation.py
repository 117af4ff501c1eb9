"""The first step of executing a run: everything its playbook needs before it starts.

In this order: the run's secrets (with a git project's credential) and the sandbox (each may end the run in
error before anything is written), a fresh private data dir, the project's source in it (runners.source: a git
project's checkout of the run's commit), the kind's own step (runners.kinds), the extra vars and settings
ansible-runner reads from env/, the SSH set-up, and the sandbox's invocation.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ansible_runner.utils import dump_artifact

from playdeck import launch_inputs, secrets
from playdeck.db import session_scope
from playdeck.git import GitCredential
from playdeck.projects.git_source import read_credential
from playdeck.settings import Settings
from runners import kinds, sandbox, secret_files, source, ssh_connection, unsafe_yaml
from runners.spec import RunSpec


@dataclass(frozen=True)
class Prepared:
    """What the playbook is run with. The extra vars are not kept here: they are in env/extravars (with the
    secret inputs' real values) and nothing after this step reads them."""

    data_dir: Path
    # Where ansible-playbook runs, and the project's playbook (or the one the run's kind runs instead: then its dir).
    project_dir: Path
    playbook: Path
    inventories: list[Path]
    # For ansible, from the project's source (inventory plugins, roles and collections paths).
    envvars: dict[str, str]
    secrets: secrets.RunSecrets
    ssh: ssh_connection.SshSetup
    # None when the run is not sandboxed (PLAYDECK_RUN_SANDBOX, runners.sandbox).
    jail: sandbox.Sandbox | None
    # The run's kind, holding what its prepare step decided for its conclude step.
    kind: kinds.KindSteps


def private_data_dir(settings: Settings, spec: RunSpec) -> Path:
    return settings.runs_dir / str(spec.run_id) / f"attempt-{spec.attempt}"


def prepare(spec: RunSpec, settings: Settings) -> Prepared:
    # Before anything starts: a project with secrets and no usable key ends here, in error, and so does a
    # run that is to be sandboxed on a host where bwrap does not work.
    run_secrets, git_credential = _load_secrets(spec)
    bwrap = sandbox.resolve(settings)
    data_dir = _fresh_private_dir(settings, spec)
    project_source = source.prepare(spec, settings, data_dir, git_credential)
    kind = kinds.steps_for(spec.kind, settings)
    kind_inputs = kind.prepare(spec, data_dir)
    playbook = kind_inputs.playbook or project_source.playbook
    project_dir = project_source.project_dir if kind_inputs.playbook is None else playbook.parent
    _write_env_files(spec, settings, data_dir, _extravars(spec, settings, run_secrets, kind_inputs))
    ssh = ssh_connection.prepare(data_dir, spec.known_hosts)
    jail = None
    if bwrap is not None:
        jail = sandbox.prepare(
            bwrap,
            settings,
            data_dir,
            project_dir,
            writable=[ssh.control_dir] if ssh.temporary else [],
            read_only=[*project_source.readable, *filter(None, [project_source.checkout])],
        )
    return Prepared(
        data_dir,
        project_dir,
        playbook,
        project_source.inventories,
        project_source.envvars,
        run_secrets,
        ssh,
        jail,
        kind,
    )


def _load_secrets(spec: RunSpec) -> tuple[secrets.RunSecrets, GitCredential | None]:
    """Decrypted in a short session just before the run; kept in memory only (see runners.secret_files),
    but for the launch's secret inputs, which are extra vars (env/extravars, 0600, masked when the run ends).
    A git project's credential too: only git gets it (never the playbook, a log or argv)."""
    with session_scope() as session:
        found = secrets.secrets_for_run(session, spec.project_id, spec.environment_id)
        inputs = launch_inputs.secret_inputs_for_run(session, spec.run_id)
        credential = None
        if spec.git is not None:
            credential = read_credential(session, spec.project_id, spec.git.username, spec.git.known_hosts)
    return (dataclasses.replace(found, inputs=inputs) if inputs else found), credential


def _fresh_private_dir(settings: Settings, spec: RunSpec) -> Path:
    data_dir = private_data_dir(settings, spec)
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, mode=0o700)
    return data_dir


def _extravars(
    spec: RunSpec, settings: Settings, run_secrets: secrets.RunSecrets, kind_inputs: kinds.KindInputs
) -> dict[str, Any]:
    return {
        # A secret input's real value over the mask its run record shows.
        **spec.extra_vars,
        **run_secrets.inputs,
        **kind_inputs.extravars,
        "playdeck_run_id": spec.run_id,
        "playdeck_project": spec.project,
        "playdeck_environment": spec.environment,
        "playdeck_version": spec.version,
        # Git projects: the ref the deploy asked for and the full commit it runs ("" for a directory project).
        "playdeck_ref": spec.git.ref if spec.git else "",
        "playdeck_commit": spec.git.commit if spec.git else "",
        "playdeck_apps_dir": str(settings.apps_dir),
    }


def _write_env_files(spec: RunSpec, settings: Settings, data_dir: Path, extravars: dict[str, Any]) -> None:
    # Every string in it, the launcher's and the platform's alike, is data: none needs Jinja, and a
    # launch value such as "{{ lookup('pipe', ...) }}" must never run anything (runners.unsafe_yaml).
    _write_env_file(data_dir, "extravars", unsafe_yaml.dump(extravars))
    _write_env_file(
        data_dir,
        "settings",
        json.dumps(
            {
                # How often the cancel callback is polled when the playbook is quiet.
                "pexpect_timeout": settings.cancel_poll_seconds,
                "suppress_ansible_output": True,
                "idle_timeout": spec.idle_timeout,
            }
        ),
    )


def _write_env_file(data_dir: Path, name: str, text: str) -> None:
    """What ansible-runner writes itself without suppress_env_files (0600, in a 0700 env/); the run is started
    with it so that it does not write the passwords and SSH key there too."""
    dump_artifact(text, str(secret_files.env_dir(data_dir)), name)
