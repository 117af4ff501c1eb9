"""The last step of executing a run: its terminal state and reason, the kind's own conclusion, then the
run's end recorded (host recap, what its hosts run now, the failure summary, terminal state; the environment's
lock and the notifications go with it)."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from playdeck.db import retry_while_unavailable, session_scope
from playdeck.models import Run
from playdeck.releases import host_versions
from playdeck.runs import failure_summary, lost
from playdeck.runs.queries import lock_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import finish_run, record_host_summaries
from playdeck.settings import Settings
from runners import spec as run_spec
from runners import ssh_connection
from runners.event_pump import EventPump
from runners.playbook_run import Executed
from runners.preparation import Prepared
from runners.spec import RunSpec

log = logging.getLogger(__name__)

RUNNER_STATUS_TO_STATE = {
    "successful": RunState.SUCCESSFUL,
    "failed": RunState.FAILED,
    "canceled": RunState.CANCELED,
    "timeout": RunState.TIMEOUT,
    "error": RunState.ERROR,
}


def conclude(spec: RunSpec, prepared: Prepared, executed: Executed, settings: Settings) -> RunState:
    pump = executed.pump
    state = _terminal_state(executed)
    # Webhooks and the API show the reason: a secret in it (a task's failure message) is masked too.
    reason = prepared.secrets.redact(_reason(state, spec, executed))
    # The kind's conclusion comes before the run's own end (a DNS run's zone is marked served first).
    prepared.kind.conclude(spec, state, pump.first_failure or reason)
    state = retry_while_unavailable(
        lambda: _record_end(spec.run_id, state, executed, reason),
        settings.db_outage_patience_seconds,
        f"run {spec.run_id} end",
    )
    log.info("run %s ended %s (rc %s, %d events)", spec.run_id, state, executed.rc, pump.persisted)
    return state


def _terminal_state(executed: Executed) -> RunState:
    pump = executed.pump
    state = RUNNER_STATUS_TO_STATE.get(executed.runner_status, RunState.ERROR)
    if pump.stop_requested.is_set() and state is not RunState.SUCCESSFUL:
        # Our TERM may end the playbook (rc != 0) before ansible-runner's own cancel does: either way
        # the run was stopped on request. A run that completed first stays successful.
        state = RunState.CANCELED
        if pump.out_of_contact:
            # Stopped because this worker was cut off from the DB: the run is lost, as the reaper says too.
            state = RunState.LOST
    return state


def _record_end(run_id: int, state: RunState, executed: Executed, reason: str) -> RunState:
    pump = executed.pump
    gone = None
    with session_scope() as session:
        if not pump.disowned:
            _record_outcomes(session, run_id, state, reason, pump)
        if state is RunState.LOST:
            # Through the one lost path, so the project's retry policy applies (messages after commit).
            gone = lost.record_lost(session, run_id, reason)
        elif finish_run(session, run_id, state, rc=executed.rc, reason=reason):
            return state
    if gone is not None:
        return state
    with session_scope() as session:
        # Someone else ended the run while it executed (force-cancel, reaper), or a retry finds
        # its own earlier commit applied: the recorded state stands.
        return RunState(run_spec.current_state(session, run_id))


def _record_outcomes(session: Session, run_id: int, state: RunState, reason: str, pump: EventPump) -> None:
    """Before the terminal state (its webhooks carry the summary): the host recap, from the playbook's own
    or, when it was stopped before it, from the events; what the hosts run now; why it ended badly."""
    outcomes = pump.outcomes
    lock_run(session, run_id)
    recap = record_host_summaries(session, run_id, pump.stats if pump.stats is not None else outcomes.stats())
    run = session.get(Run, run_id)
    if run is None:
        return
    host_versions.record(session, run, host_versions.switched_hosts(run, state, outcomes.reports(), recap))
    rows = [{"host": host, **counts} for host, counts in sorted(recap.items())]
    failure_summary.store(session, run_id, failure_summary.build(state, reason, rows, outcomes))


def _reason(state: RunState, spec: RunSpec, executed: Executed) -> str:
    pump, rc = executed.pump, executed.rc
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
        if executed.elapsed >= spec.timeout:
            parts.append(f"stopped after the run timeout of {spec.timeout} s")
        else:
            parts.append(f"stopped after {spec.idle_timeout} s without output (idle timeout)")
    if executed.leftovers:
        parts.append(f"stopped {len(executed.leftovers)} leftover processes")
    return "; ".join(parts)
