"""Executes one run with ansible-runner: claim, read its spec, prepare, run, conclude.

The steps: runners.preparation (source, secrets, private dir, the kind's step, extra vars, SSH, sandbox),
runners.playbook_run (ansible-runner, event pump, control, leftovers stopped), runners.conclusion (terminal
state and reason, the kind's step, recap and end recorded); each kind of run adds its own steps
(runners.kinds). Nothing here holds a DB session while the playbook runs: each step opens its own short
session.
"""

from __future__ import annotations

import logging
import os
import socket
import traceback
from dataclasses import dataclass

from playdeck import secrets
from playdeck.db import session_scope
from playdeck.runs import locks
from playdeck.runs.queries import get_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run
from playdeck.settings import Settings, get_settings
from runners import conclusion, playbook_run, preparation, retention, sandbox
from runners import spec as run_spec
from runners.source_errors import SourceUnavailable
from runners.spec import RunSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    run_id: int
    executed: bool
    state: str


def execute(run_id: int) -> Outcome:
    """Run ``run_id`` if this call wins the claim; any other delivery of the same run does nothing."""
    settings = get_settings()
    with session_scope() as session:
        claimed = claim_run(session, run_id, socket.gethostname(), os.getpid())
        if not claimed:
            state = run_spec.current_state(session, run_id)
    if not claimed:
        _log_not_claimed(run_id, state)
        return Outcome(run_id, executed=False, state=state)
    spec = None
    try:
        spec = _read_spec(run_id, settings)
        state = _prepare_run_conclude(spec, settings)
    except (secrets.SecretKeyError, sandbox.SandboxUnavailable, SourceUnavailable) as exc:
        # A configuration fault with a message a person can act on; the traceback adds nothing.
        log.error("run %s: %s", run_id, exc.message)
        state = _end_in_error(run_id, exc.message[:2000])
    except Exception as exc:  # anything unforeseen still ends the run truthfully
        log.exception("run %s failed inside the worker", run_id)
        state = _end_in_error(run_id, _describe(exc))
    # The environment's lock went with the terminal state; a run waiting for it may start now.
    with session_scope() as session:
        locks.dispatch_next_waiting(session, *_environment_of(spec, run_id))
    # After the terminal state is recorded, so pruning never delays a run's result.
    retention.prune_if_due(settings)
    return Outcome(run_id, executed=True, state=str(state))


def _prepare_run_conclude(spec: RunSpec, settings: Settings) -> RunState:
    prepared = preparation.prepare(spec, settings)
    executed = playbook_run.run(spec, prepared, settings)
    return conclusion.conclude(spec, prepared, executed, settings)


def _log_not_claimed(run_id: int, state: str) -> None:
    if state == RunState.QUEUED:
        # Its environment is locked by another running deploy, which dispatches it again when done.
        log.info("run %s waits for its environment's deploy lock", run_id)
    else:
        # A duplicate or late redelivery: the run is running elsewhere or already ended.
        # Acknowledge it without executing anything.
        log.warning("run %s not claimed (state %s): not executing it again", run_id, state)


def _read_spec(run_id: int, settings: Settings) -> RunSpec:
    with session_scope() as session:
        return run_spec.read(session, run_id, settings)


def _end_in_error(run_id: int, reason: str) -> RunState:
    with session_scope() as session:
        finish_run(session, run_id, RunState.ERROR, reason=reason)
    return RunState.ERROR


def _environment_of(spec: RunSpec | None, run_id: int) -> tuple[int, int]:
    if spec is not None:
        return spec.project_id, spec.environment_id
    # Only a run whose spec could not be read (it has just ended in error) is read again.
    with session_scope() as session:
        run = get_run(session, run_id)
        return run.project_id, run.environment_id


def _describe(exc: BaseException) -> str:
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return f"worker error: {last}"[:2000]
