"""100 cancels of real runs at random moments on a busy machine: each ends ``canceled`` within 10 s, none
``error``, with no process of the run left (issue 19: a process exiting between the stop path's listing
and its look at it failed the cancel as ``error``)."""

from __future__ import annotations

import random

import pytest

from tests.runners import stop_trials

CANCELS = 100


@pytest.mark.timeout(1500)
def test_cancels_at_random_moments_end_canceled_with_nothing_left(test_playbooks, start_worker):
    stop_trials.add_project()
    rng = random.Random()
    trials = [stop_trials.Trial("cancel", rng) for _ in range(CANCELS)]
    start_worker(concurrency=4)
    with stop_trials.cpu_hog():
        endings = stop_trials.run_trials(trials, timeout=1200)
    assert stop_trials.failures(trials, endings, {"canceled"}) == []
    # Every kind of moment was hit, from just claimed to the last task.
    points = sorted(trial.point for trial in trials)
    assert points[0] <= 3 and points[-1] >= stop_trials.EVENTS_BEFORE_LAST_TASK - 3
