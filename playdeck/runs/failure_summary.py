"""Why a run ended badly, first: its failed hosts, each with the task that failed, the module's message and
the host's final message (a rescue's or rollback's last word, "... current is back on 2.1.0"), each with the
event counter of its line in the log; for a stopped run, the task it was in.

Built once, when the run ends, from the events the worker stored (``playdeck.runs.host_outcomes``) and the
host recap, and kept on the run (``runs.failure_summary_json``): the run page's banner, the API's
``failure_summary``, the webhooks' payload and the CLI's end of ``--wait`` all show this one summary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from playdeck.models import Run
from playdeck.runs.host_outcomes import Failure, HostOutcomes
from playdeck.runs.states import RunState

# The states a run "ended badly" in: they open with the summary.
BAD_ENDS = frozenset({RunState.FAILED, RunState.ERROR, RunState.TIMEOUT, RunState.CANCELED, RunState.LOST})
# A summary names at most this many hosts (a run over 500 hosts that all failed): the recap has them all.
MAX_HOSTS = 50


def _failure_json(failure: Failure | None) -> dict[str, Any] | None:
    if failure is None:
        return None
    return {"task": failure.task, "message": failure.message, "counter": failure.counter}


def _host_entry(host: str, counts: Mapping[str, int], outcomes: HostOutcomes) -> dict[str, Any]:
    outcome = outcomes.hosts.get(host)
    first = outcome.first_failure if outcome else None
    last = outcome.last_failure if outcome else None
    return {
        "host": host,
        "status": "unreachable" if counts.get("unreachable") and not counts.get("failed") else "failed",
        # The task that failed first, with the module's message: the cause.
        "failure": _failure_json(first),
        # The host's last failure when another one followed (a rescue's closing fail): how it ended.
        "final": _failure_json(last) if last is not None and last != first else None,
    }


def build(
    state: RunState | str, reason: str, recap: Iterable[Mapping[str, Any]], outcomes: HostOutcomes
) -> dict[str, Any] | None:
    """The summary of a run that ended in ``state`` (None for a good end). ``recap``: the run's host
    summaries as rows with ``host``, ``failed``, ``unreachable`` (what ``run_host_summaries`` holds)."""
    state = RunState(state)
    if state not in BAD_ENDS:
        return None
    failed = [row for row in recap if row.get("failed") or row.get("unreachable")]
    hosts = [_host_entry(row["host"], row, outcomes) for row in failed[:MAX_HOSTS]]
    stopped_in = None
    if state in (RunState.CANCELED, RunState.TIMEOUT, RunState.LOST) and outcomes.last_task is not None:
        counter, task = outcomes.last_task
        stopped_in = {"task": task, "counter": counter}
    return {
        "state": state.value,
        "reason": reason,
        "failed_hosts": [row["host"] for row in failed],
        "hosts": hosts,
        # Where a stopped run was: the last task that had started.
        "stopped_in": stopped_in,
    }


def store(session: Session, run_id: int, summary: dict[str, Any] | None) -> None:
    """Keep the summary on the run, in the transaction of its end (nothing for a good end)."""
    if summary is None:
        return
    session.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(failure_summary_json=json.dumps(summary))
        .execution_options(synchronize_session=False)
    )


def only_reason(state: str, reason: str) -> dict[str, Any]:
    """The summary of a bad end its worker did not record (the reaper or a force-cancel ended the run)."""
    return {"state": state, "reason": reason, "failed_hosts": [], "hosts": [], "stopped_in": None}


def for_run(state: str, reason: str, stored: str | None) -> dict[str, Any] | None:
    """What the API shows as the run's ``failure_summary``: the stored one, else one made of the reason."""
    if stored:
        return json.loads(stored)
    if RunState(state) in BAD_ENDS:
        return only_reason(state, reason)
    return None


def lines(summary: Mapping[str, Any] | None) -> list[str]:
    """The summary in plain lines (the CLI, chat webhooks)."""
    if not summary:
        return []
    out = []
    for host in summary.get("hosts") or []:
        failure, final = host.get("failure"), host.get("final")
        line = f"{host['host']} {host['status']}"
        if failure:
            line += f" in '{failure['task']}': {failure['message']}"
        if final:
            line += f" — finally '{final['task']}': {final['message']}"
        out.append(line)
    more = len(summary.get("failed_hosts") or []) - len(summary.get("hosts") or [])
    if more > 0:
        out.append(f"... and {more} more failed hosts")
    if summary.get("stopped_in"):
        out.append(f"stopped during '{summary['stopped_in']['task']}'")
    return out
