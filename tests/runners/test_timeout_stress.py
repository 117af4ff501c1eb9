"""30 run timeouts and 30 idle timeouts of random lengths, on a busy machine: each run ends ``timeout``
within 10 s, none ``error``, with no process of the run left (issue 19)."""

from __future__ import annotations

import random

import pytest

from tests.runners import stop_trials

TRIALS_EACH = 30


@pytest.mark.timeout(1200)
def test_run_and_idle_timeouts_end_timeout_with_nothing_left(test_playbooks, start_worker):
    stop_trials.add_project()
    rng = random.Random()
    trials = [stop_trials.Trial(kind, rng) for kind in ("timeout", "idle") for _ in range(TRIALS_EACH)]
    rng.shuffle(trials)
    start_worker(concurrency=4)
    with stop_trials.cpu_hog():
        endings = stop_trials.run_trials(trials, timeout=900)
    assert stop_trials.failures(trials, endings, {"timeout"}) == []
    # The reason says which limit stopped the run.
    said = {"timeout": "run timeout", "idle": "idle timeout"}
    assert [t.run_id for t in trials if said[t.kind] not in endings[t.run_id].reason] == []
