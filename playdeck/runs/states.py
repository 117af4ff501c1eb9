"""The run state machine: the one place that says which state may follow which; and the kinds of run."""

from __future__ import annotations

from enum import StrEnum

from playdeck.errors import IllegalTransition


class RunKind(StrEnum):
    """What a run is for; the value is stored in ``runs.kind``. A deploy runs a project's playbook, a DNS
    run regenerates (or removes) one zone with the built-in DNS project (runners.kinds)."""

    DEPLOY = "deploy"
    DNS = "dns"


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    CANCELED = "canceled"
    TIMEOUT = "timeout"
    LOST = "lost"
    ERROR = "error"


TERMINAL_STATES: frozenset[RunState] = frozenset(
    {
        RunState.SUCCESSFUL,
        RunState.FAILED,
        RunState.CANCELED,
        RunState.TIMEOUT,
        RunState.LOST,
        RunState.ERROR,
    }
)

ACTIVE_STATES: frozenset[RunState] = frozenset({RunState.QUEUED, RunState.RUNNING})

_ALLOWED: dict[RunState, frozenset[RunState]] = {
    # A queued run may be canceled before it starts, or found unrunnable (error) or lost by the reaper.
    RunState.QUEUED: frozenset({RunState.RUNNING, RunState.CANCELED, RunState.ERROR, RunState.LOST}),
    RunState.RUNNING: TERMINAL_STATES,
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
