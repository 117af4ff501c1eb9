"""Executes one run with ansible-runner: claim, prepare, run, stop leftovers, record the terminal state.

Nothing here holds a DB session while the playbook runs: each step opens its own short session.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ansible_runner
from ansible_runner.utils import dump_artifact

from playdeck import launch_inputs, locks, lost, runs, secrets
from playdeck.db import retry_while_unavailable, session_scope
from playdeck.errors import NotFound
from playdeck.projects import resolve_inside
from playdeck.settings import Settings, get_settings
from playdeck.states import RunState
from runners import orphans, processes, retention, sandbox, secret_files, ssh_connection, unsafe_yaml, zone_regeneration
from runners.event_pump import EventPump

log = logging.getLogger(__name__)

# ansible-runner's artifacts go to <private data dir>/artifacts/<ident>.
ARTIFACT_IDENT = "artifacts"
# Set to "" in the playbook's environment: ansible-runner copies the worker's whole environment into the
# processes of the run and into artifacts/<ident>/command, and a playbook has no business with Playdeck's
# own credentials (the secrets key, a password in the DB or broker URL, the CLI's API token).
HIDDEN_ENV = ("PLAYDECK_SECRET_KEY", "PLAYDECK_DATABASE_URL", "PLAYDECK_BROKER_URL", "PLAYDECK_TOKEN")

# Put the ansible installed beside this interpreter first on PATH, even when its bin directory is not
# on PATH (a supervisord program, a venv used without activation).
ANSIBLE_BIN_DIR = str(Path(sys.executable).parent)

RUNNER_STATUS_TO_STATE = {
    "successful": RunState.SUCCESSFUL,
    "failed": RunState.FAILED,
    "canceled": RunState.CANCELED,
    "timeout": RunState.TIMEOUT,
    "error": RunState.ERROR,
}


@dataclass(frozen=True)
class RunSpec:
    """Plain values loaded once, so the ORM objects and their session can be closed before running."""

    run_id: int
    kind: str
    attempt: int
    project_id: int
    environment_id: int
    project: str
    environment: str
    playbook: str
    inventory: str
    version: str
    extra_vars: dict[str, Any]
    limit: str
    tags: list[str]
    check: bool
    timeout: int
    idle_timeout: int | None
    # The environment's SSH host keys (known_hosts lines): the only ones the run's ssh accepts.
    known_hosts: str = ""


@dataclass(frozen=True)
class Outcome:
    run_id: int
    executed: bool
    state: str


def execute(run_id: int) -> Outcome:
    """Run ``run_id`` if this call wins the claim; any other delivery of the same run does nothing."""
    settings = get_settings()
    with session_scope() as session:
        claimed = runs.claim_run(session, run_id, socket.gethostname(), os.getpid())
        if not claimed:
            state = _current_state(session, run_id)
    if not claimed:
        if state == RunState.QUEUED:
            # Its environment is locked by another running deploy, which dispatches it again when done.
            log.info("run %s waits for its environment's deploy lock", run_id)
        else:
            # A duplicate or late redelivery: the run is running elsewhere or already ended.
            # Acknowledge it without executing anything.
            log.warning("run %s not claimed (state %s): not executing it again", run_id, state)
        return Outcome(run_id, executed=False, state=state)
    spec = None
    try:
        spec = _load_spec(run_id)
        state = _run_playbook(spec, settings)
    except (secrets.SecretKeyError, sandbox.SandboxUnavailable) as exc:
        # A configuration fault with a message a person can act on; the traceback adds nothing.
        log.error("run %s: %s", run_id, exc.message)
        with session_scope() as session:
            runs.finish_run(session, run_id, RunState.ERROR, reason=exc.message[:2000])
        state = RunState.ERROR
    except Exception as exc:  # anything unforeseen still ends the run truthfully
        log.exception("run %s failed inside the worker", run_id)
        with session_scope() as session:
            runs.finish_run(session, run_id, RunState.ERROR, reason=_describe(exc))
        state = RunState.ERROR
    # The environment's lock went with the terminal state; a run waiting for it may start now.
    project_id, environment_id = _environment_of(run_id) if spec is None else (spec.project_id, spec.environment_id)
    locks.dispatch_next_waiting(project_id, environment_id)
    # After the terminal state is recorded, so pruning never delays a run's result.
    retention.prune_if_due(settings)
    return Outcome(run_id, executed=True, state=str(state))


def _current_state(session, run_id: int) -> str:
    try:
        return runs.get_run(session, run_id).state
    except NotFound:  # a DB error must surface, not pass for a missing run
        return "missing"


def _environment_of(run_id: int) -> tuple[int, int]:
    with session_scope() as session:
        run = runs.get_run(session, run_id)
        return run.project_id, run.environment_id


def _load_spec(run_id: int) -> RunSpec:
    with session_scope() as session:
        run = runs.get_run(session, run_id)
        return RunSpec(
            run_id=run.id,
            kind=run.kind,
            attempt=run.attempt,
            project_id=run.project_id,
            environment_id=run.environment_id,
            project=run.project.name,
            environment=run.environment.name,
            playbook=run.project.playbook,
            inventory=run.environment.inventory,
            version=run.version,
            extra_vars=run.extra_vars,
            limit=run.limit,
            tags=run.tags,
            check=run.check_mode,
            timeout=min(run.timeout_seconds or run.project.run_timeout_seconds, get_settings().max_run_seconds),
            idle_timeout=run.idle_timeout_seconds or run.project.idle_timeout_seconds or None,
            known_hosts=run.environment.known_hosts,
        )


def _load_secrets(spec: RunSpec) -> secrets.RunSecrets:
    """Decrypted in a short session just before the run; kept in memory only (see runners.secret_files),
    but for the launch's secret inputs, which are extra vars (env/extravars, 0600, masked when the run ends)."""
    with session_scope() as session:
        found = secrets.secrets_for_run(session, spec.project_id, spec.environment_id)
        inputs = launch_inputs.secret_inputs_for_run(session, spec.run_id)
    return dataclasses.replace(found, inputs=inputs) if inputs else found


def _write_env_file(data_dir: Path, name: str, text: str) -> None:
    """What ansible-runner writes itself without suppress_env_files (0600, in a 0700 env/); the run is started
    with it so that it does not write the passwords and SSH key there too."""
    dump_artifact(text, str(secret_files.env_dir(data_dir)), name)


def private_data_dir(settings: Settings, spec: RunSpec) -> Path:
    return settings.runs_dir / str(spec.run_id) / f"attempt-{spec.attempt}"


def _run_playbook(spec: RunSpec, settings: Settings) -> RunState:
    playbook = resolve_inside(settings.playbook_dir, spec.playbook, "playbook")
    inventory = resolve_inside(settings.inventory_dir, spec.inventory, "inventory")
    for path, what, name in ((playbook, "playbook", spec.playbook), (inventory, "inventory", spec.inventory)):
        if not path.exists():
            raise FileNotFoundError(f"{what} '{name}' not found in {path.parent}")
    # Before anything starts: a project with secrets and no usable key ends here, in error, and so does a
    # run that is to be sandboxed on a host where bwrap does not work.
    run_secrets = _load_secrets(spec)
    bwrap = sandbox.resolve(settings)
    data_dir = private_data_dir(settings, spec)
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, mode=0o700)
    # A DNS regeneration exports its zone first; the playbook gets the export and BIND's whereabouts.
    zone_run = zone_regeneration.begin(spec.run_id, spec.extra_vars, data_dir, settings) if spec.kind == "dns" else None
    if zone_run is not None and zone_run.playbook is not None:
        playbook = zone_run.playbook  # a deleted zone's run removes it from BIND with its own playbook
    extravars = {
        # A secret input's real value over the mask its run record shows.
        **spec.extra_vars,
        **run_secrets.inputs,
        **(zone_run.extravars if zone_run else {}),
        "playdeck_run_id": spec.run_id,
        "playdeck_project": spec.project,
        "playdeck_environment": spec.environment,
        "playdeck_version": spec.version,
        "playdeck_apps_dir": str(settings.apps_dir),
    }
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

    ssh = ssh_connection.prepare(data_dir, spec.known_hosts)
    jail = None
    if bwrap is not None:
        jail = sandbox.prepare(
            bwrap, settings, data_dir, playbook.parent, writable=[ssh.control_dir] if ssh.temporary else []
        )
    started = time.monotonic()
    preexisting = processes.descendant_pids()
    stopper = processes.GracefulStop(spare=preexisting, grace_seconds=settings.stop_grace_seconds)
    # Known secrets are masked in each event before it is stored or written as an artifact.
    pump = EventPump(
        spec.run_id, settings, on_stop=stopper.begin, redact=run_secrets.redact_event if run_secrets else None
    )
    pump.start()
    try:
        staged = secret_files.stage(data_dir, run_secrets)
        playbook_args = [*(["--check"] if spec.check else []), *staged.cmdline]
        result = ansible_runner.run(
            private_data_dir=str(data_dir),
            project_dir=str(playbook.parent),
            playbook=playbook.name,
            inventory=str(inventory),
            limit=spec.limit or None,
            tags=",".join(spec.tags) or None,
            # In the sandbox: bwrap runs ansible-playbook; ansible-runner adds inventory, limit, extra vars, tags.
            binary=jail.binary if jail else None,
            cmdline=secret_files.join_cmdline(jail.command(playbook.name, playbook_args) if jail else playbook_args),
            ident=ARTIFACT_IDENT,
            envvars={
                "PATH": f"{ANSIBLE_BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
                # Inherited by every process of the run, in any session: lets a sweep find them later.
                orphans.RUN_ENV: orphans.run_tag(spec.run_id),
                # Host keys checked against the environment's, connections reused, modules pipelined.
                **ssh.envvars,
                **dict.fromkeys(HIDDEN_ENV, ""),
            },
            # Extra vars and settings are in env/ already (above); passwords and the SSH key stay in memory.
            suppress_env_files=True,
            passwords=staged.passwords or None,
            ssh_key=staged.ssh_key,
            quiet=True,
            timeout=spec.timeout,
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
            ssh_connection.close(ssh)
            if run_secrets.ssh_key:
                processes.stop_ssh_agents(spare=preexisting)
            if jail is not None:
                processes.reap_exited_children()
            # Whatever ansible-runner reports, no process of this run may outlive it...
            leftovers = processes.stop_descendants(spare=preexisting)
        finally:
            # ... nor any file holding one of its secrets.
            secret_files.remove(data_dir, run_secrets)
        pump.close()

    elapsed = time.monotonic() - started
    state = RUNNER_STATUS_TO_STATE.get(runner_status, RunState.ERROR)
    if pump.stop_requested.is_set() and state is not RunState.SUCCESSFUL:
        # Our TERM may end the playbook (rc != 0) before ansible-runner's own cancel does: either way
        # the run was stopped on request. A run that completed first stays successful.
        state = RunState.CANCELED
        if pump.out_of_contact:
            # Stopped because this worker was cut off from the DB: the run is lost, as the reaper says too.
            state = RunState.LOST
    # Webhooks and the API show the reason: a secret in it (a task's failure message) is masked too.
    reason = run_secrets.redact(_reason(state, rc, pump, leftovers, spec, elapsed))
    if zone_run is not None:
        # Before the run's own end, so a run seen successful always has its zone marked served.
        retry_while_unavailable(
            lambda: zone_regeneration.end(zone_run, spec.run_id, state, pump.first_failure or reason),
            settings.db_outage_patience_seconds,
            f"run {spec.run_id} zone",
        )

    def record_end() -> RunState:
        gone = None
        with session_scope() as session:
            if pump.stats is not None and not pump.disowned:
                runs.record_host_summaries(session, spec.run_id, pump.stats)
            if state is RunState.LOST:
                # Through the one lost path, so the project's retry policy applies (messages after commit).
                gone = lost.record_lost(session, spec.run_id, reason)
            elif runs.finish_run(session, spec.run_id, state, rc=rc, reason=reason):
                return state
        if gone is not None:
            lost.after_commit(gone)
            return state
        with session_scope() as session:
            # Someone else ended the run while it executed (force-cancel, reaper), or a retry finds
            # its own earlier commit applied: the recorded state stands.
            return RunState(_current_state(session, spec.run_id))

    state = retry_while_unavailable(record_end, settings.db_outage_patience_seconds, f"run {spec.run_id} end")
    log.info("run %s ended %s (rc %s, %d events)", spec.run_id, state, rc, pump.persisted)
    return state


def _reason(
    state: RunState, rc: int | None, pump: EventPump, leftovers: list[int], spec: RunSpec, elapsed: float
) -> str:
    parts = []
    if state in (RunState.CANCELED, RunState.LOST) and pump.stop_reason:
        parts.append(pump.stop_reason)
    elif state is RunState.FAILED:
        host_key_problem = ssh_connection.explain_failure(pump.first_failure)
        if host_key_problem:
            parts.append(host_key_problem)
        parts.append(f"ansible-playbook exited with rc {rc}")
        if pump.first_failure:
            parts.append(f"first failure: {pump.first_failure}")
    elif state is RunState.TIMEOUT:
        if elapsed >= spec.timeout:
            parts.append(f"stopped after the run timeout of {spec.timeout} s")
        else:
            parts.append(f"stopped after {spec.idle_timeout} s without output (idle timeout)")
    if leftovers:
        parts.append(f"stopped {len(leftovers)} leftover processes")
    return "; ".join(parts)


def _describe(exc: BaseException) -> str:
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return f"worker error: {last}"[:2000]
