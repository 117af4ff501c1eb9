"""The run state machine: the one place that says which state may follow which; and the kinds of run."""

from __future__ import annotations

from enum import StrEnum

from playdeck.errors import IllegalTransition


class RunKind(StrEnum):
    """What a run is for; the value is stored in ``runs.kind``. A deploy runs a project's playbook, a DNS
    run regenerates (or removes) one zone with the built-in DNS project (runners.kinds)."""

    DEPLOY = "deploy"
    DNS = "dns"


def real_deploy(kind: str, check_mode: bool) -> bool:
    """A deploy that changed its hosts: of kind deploy, not a check-mode (dry) run. The same question in SQL
    is ``playdeck.runs.queries.is_real_deploy``."""
    return kind == RunKind.DEPLOY and not check_mode


class RunState(StrEnum):
    # The environment requires approval: no deploy lock, no worker, no broker message until enough
    # approvers agree (playdeck.release_control.approvals).
    AWAITING_APPROVAL = "awaiting_approval"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    CANCELED = "canceled"
    TIMEOUT = "timeout"
    LOST = "lost"
    ERROR = "error"
    # Ends of a run that never started: an approver said no, or nobody decided in time.
    REJECTED = "rejected"
    EXPIRED = "expired"


# How a run that was queued or running can end.
RUN_ENDINGS: frozenset[RunState] = frozenset(
    {
        RunState.SUCCESSFUL,
        RunState.FAILED,
        RunState.CANCELED,
        RunState.TIMEOUT,
        RunState.LOST,
        RunState.ERROR,
    }
)

TERMINAL_STATES: frozenset[RunState] = RUN_ENDINGS | {RunState.REJECTED, RunState.EXPIRED}

# Yet to end.
ACTIVE_STATES: frozenset[RunState] = frozenset({RunState.AWAITING_APPROVAL, RunState.QUEUED, RunState.RUNNING})
# In the workers' hands (sent to the broker, or executing): what worker capacity and stuck runs are about.
DISPATCHED_STATES: frozenset[RunState] = frozenset({RunState.QUEUED, RunState.RUNNING})

_ALLOWED: dict[RunState, frozenset[RunState]] = {
    # Enough approvals queue it; one rejection, the timeout or a cancel end it before it was ever sent.
    RunState.AWAITING_APPROVAL: frozenset({RunState.QUEUED, RunState.REJECTED, RunState.EXPIRED, RunState.CANCELED}),
    # A queued run may be canceled before it starts, or found unrunnable (error) or lost by the reaper.
    RunState.QUEUED: frozenset({RunState.RUNNING, RunState.CANCELED, RunState.ERROR, RunState.LOST}),
    RunState.RUNNING: RUN_ENDINGS,
}


def can_transition(current: RunState | str, target: RunState | str) -> bool:
    return RunState(target) in _ALLOWED.get(RunState(current), frozenset())


def check_transition(current: RunState | str, target: RunState | str) -> None:
    if not can_transition(current, target):
        raise IllegalTransition(RunState(current), RunState(target))


def sources_of(target: RunState | str) -> frozenset[RunState]:
    """States from which ``target`` may be entered; used for atomic conditional updates in SQL."""
    target = RunState(target)
    return frozenset(state for state, allowed in _ALLOWED.items() if target in allowed)


def is_terminal(state: RunState | str) -> bool:
    return RunState(state) in TERMINAL_STATES
