"""Periodic duties: every domain registers its own, and a duty that raises goes on at its next time."""

from __future__ import annotations

import threading

from playdeck import duties, reaper


def test_every_domain_registers_its_duties():
    names = {duty.name for duty in duties.registered()}
    assert {"lost runs", "forgotten queued runs", "dns dirty zones", "purge", "webhook sending"} <= names
    assert {module.__name__ for module in reaper.DOMAINS} >= {
        "playdeck.runs.purge",
        "playdeck.runs.recovery",
        "playdeck.webhook_delivery",
    }


def test_a_duty_on_its_thread_goes_on_after_a_pass_that_raised(embedded):
    passes: list[int] = []
    second_pass = threading.Event()

    def flaky(settings, now):
        passes.append(len(passes))
        if len(passes) == 1:
            raise RuntimeError("the first pass fails")
        second_pass.set()

    stop = duties.start(embedded, [duties.Duty("flaky", flaky, every=0.01)])
    try:
        assert second_pass.wait(30), "the duty's thread ended with its first failure"
    finally:
        stop.set()
