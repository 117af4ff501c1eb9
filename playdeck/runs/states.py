"""The run state machine: the one place that says which state may follow which; and the kinds of run."""

from __future__ import annotations

from enum import StrEnum

from playdeck.errors import IllegalTransition


class RunKind(StrEnum):
    """What a run is for; the value is stored in ``runs.kind``. A deploy runs a project's playbook, a DNS
    run regenerates (or removes) one zone with the built-in DNS project (runners.kinds)."""

    DEPLOY = "deploy"
    DNS = "dns"


def real_deploy(kind: str, check_mode: bool, playbook: str | None = None) -> bool:
    """A deploy that changed its hosts: of kind deploy, not a check-mode (dry) run, and the project's own
    playbook (not another one a pipeline step runs, such as a smoke test). The same question in SQL is
    ``playdeck.runs.conditions.is_real_deploy``."""
    return kind == RunKind.DEPLOY and not check_mode and not playbook


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


# --- pipelines (playdeck.pipelines): a pipeline run and each of its steps move through states of their own,
# changed like a run's by conditional UPDATEs (playdeck.pipelines.engine), so two advancers of the same step
# (two reapers, a redelivered end) never both win.


class PipelineState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class StepState(StrEnum):
    PENDING = "pending"
    # Its run is asked for and not ended (queued, awaiting its environment's approval, or running).
    RUNNING = "running"
    # An approval step waits for a release manager's decision; no run.
    AWAITING_APPROVAL = "awaiting_approval"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    # Not reached: the pipeline run was canceled, or ended on another path.
    SKIPPED = "skipped"


_PIPELINE_ALLOWED: dict[PipelineState, frozenset[PipelineState]] = {
    PipelineState.RUNNING: frozenset({PipelineState.SUCCEEDED, PipelineState.FAILED, PipelineState.CANCELED}),
    # A resume goes on from the failed step (or a later one), with the same commit.
    PipelineState.FAILED: frozenset({PipelineState.RUNNING}),
}
STEP_ACTIVE: frozenset[StepState] = frozenset({StepState.RUNNING, StepState.AWAITING_APPROVAL})
# A step is started again by a resume: whatever it ended as before.
_STEP_RESTARTABLE = frozenset(
    {StepState.PENDING, StepState.FAILED, StepState.CANCELED, StepState.SKIPPED, StepState.SUCCEEDED}
)
_STEP_ENDINGS = frozenset({StepState.SUCCEEDED, StepState.FAILED, StepState.CANCELED})
_STEP_ALLOWED: dict[StepState, frozenset[StepState]] = {
    **{state: frozenset(STEP_ACTIVE | {StepState.FAILED, StepState.SKIPPED}) for state in _STEP_RESTARTABLE},
    StepState.RUNNING: _STEP_ENDINGS,
    StepState.AWAITING_APPROVAL: _STEP_ENDINGS,
}


def pipeline_sources_of(target: PipelineState | str) -> frozenset[PipelineState]:
    target = PipelineState(target)
    return frozenset(state for state, allowed in _PIPELINE_ALLOWED.items() if target in allowed)


def step_sources_of(target: StepState | str) -> frozenset[StepState]:
    target = StepState(target)
    return frozenset(state for state, allowed in _STEP_ALLOWED.items() if target in allowed and state != target)
