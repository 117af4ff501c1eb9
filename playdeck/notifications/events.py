"""The events a notification can be about, and which of them are failures.

Run state changes give started, succeeded, failed (also a run that could not start its playbook: error),
canceled, timeout and lost (``playdeck.webhooks.EVENT_OF_STATE``); "fixed" is a success whose environment's
previous real deploy failed; the others come from release control (approvals, freeze overrides) and from
the reaper (running_long), through ``playdeck.webhooks.enqueue_event``.
"""

from __future__ import annotations

from typing import Any

from playdeck.errors import ValidationError

EVENTS = (
    "started",
    "succeeded",
    "failed",
    "fixed",
    "canceled",
    "timeout",
    "lost",
    "approval_requested",
    "approved",
    "rejected",
    "expired",
    "freeze_overridden",
    "running_long",
    "pipeline_succeeded",
    "pipeline_failed",
    "pipeline_canceled",
)
# What a failure-only subscription hears, and what quiet hours never hold back: a deploy that ended badly.
FAILURE_EVENTS = frozenset({"failed", "timeout", "lost", "pipeline_failed"})
# How each event reads after "run N" in a message.
PHRASES = {
    "started": "started",
    "succeeded": "succeeded",
    "failed": "failed",
    "fixed": "succeeded after a failure (fixed)",
    "canceled": "canceled",
    "timeout": "timed out",
    "lost": "lost (its worker vanished)",
    "approval_requested": "waits for approval",
    "approved": "approved",
    "rejected": "rejected",
    "expired": "expired waiting for approval",
    "freeze_overridden": "deploys during a freeze (overridden)",
    "running_long": "is running longer than usual",
    # About the run of a pipeline run's last step, once the pipeline run ended.
    "pipeline_succeeded": "ended its pipeline run, which succeeded",
    "pipeline_failed": "ended its pipeline run, which failed",
    "pipeline_canceled": "ended its pipeline run, which was canceled",
    "test": "test notification",
}


def choose(events: Any, known: tuple[str, ...]) -> list[str]:
    """A list (or comma-separated text) of names out of ``known``, in ``known``'s order; None: all of them."""
    if events is None:
        return list(known)
    if isinstance(events, str):
        events = [name.strip() for name in events.split(",") if name.strip()]
    if not isinstance(events, list) or not events or not all(isinstance(name, str) for name in events):
        raise ValidationError("events", f"must be a non-empty list of: {', '.join(known)}")
    unknown = sorted(set(events) - set(known))
    if unknown:
        raise ValidationError("events", f"unknown event(s) {', '.join(unknown)[:300]}; known: {', '.join(known)}")
    return [name for name in known if name in events]
