"""Passes of the schedules duty racing for the same fire times."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from playdeck.schedules import firing
from playdeck.settings import get_settings


def racing_passes(monkeypatch: pytest.MonkeyPatch, now: dt.datetime, count: int = 3) -> list[list[firing.Fired]]:
    """``count`` passes at ``now`` on threads, each firing only after every one has read the due schedules;
    what each pass fired."""
    planned = firing._due_plans
    all_planned = threading.Barrier(count, timeout=30)

    def plan_then_wait(settings, now):
        plans = planned(settings, now)
        all_planned.wait()  # every pass saw the schedule due before any fires it
        return plans

    monkeypatch.setattr(firing, "_due_plans", plan_then_wait)
    results: list[list[firing.Fired]] = []
    passes = [
        threading.Thread(target=lambda: results.append(firing.fire_due(get_settings(), now))) for _ in range(count)
    ]
    for one in passes:
        one.start()
    for one in passes:
        one.join(60)
    return results
