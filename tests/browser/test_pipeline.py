"""A pipeline run's page in a real browser: the strip of steps follows the run as it happens (the real worker
runs each step, the reaper's pipelines duty starts the next), without a reload; each step links to its run, whose
page links back."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from playdeck import db, duties
from playdeck.pipelines import engine, service
from playdeck.settings import get_settings
from tests.browser.browser_testing import USER, screenshot
from tests.browser.test_flows import LONG_MS

STEPS = [
    {"name": "dev", "kind": "deploy", "environment": "dev"},
    {"name": "prod", "kind": "deploy", "environment": "prod"},
]


def test_the_strip_shows_each_step_as_it_runs_and_ends(page, site_env) -> None:
    with db.session_scope() as session:
        pipeline = service.create(session, {"project": "chatty", "name": "release", "steps": STEPS}, USER)
        pipeline_run = engine.start(session, pipeline, engine.Source(version="1.0.0"), USER).id
    stop = duties.start(get_settings(), [engine.PIPELINES])
    try:
        page.goto(f"/pipeline-runs/{pipeline_run}")
        page.evaluate("window.notReloaded = true")
        expect(page.locator("#step-prod .step-state")).to_have_text("pending")
        expect(page.locator("#step-dev .step-state")).to_have_text("succeeded", timeout=LONG_MS)
        expect(page.locator("#step-prod .step-run a")).to_have_text(re.compile(r"run #\d+"), timeout=LONG_MS)
        expect(page.locator("#pipeline-state")).to_have_text("succeeded", timeout=LONG_MS)
        expect(page.locator("#step-prod .step-duration")).to_have_text(re.compile(r"\d+ s"))
        screenshot(page, "pipeline-run")
        assert page.evaluate("window.notReloaded") is True
    finally:
        stop.set()
    page.locator("#step-dev .step-run a").click()
    expect(page.locator("#pipeline-run")).to_contain_text("Step dev of pipeline run")
    page.locator("#pipeline-run a").click()
    expect(page).to_have_url(re.compile(rf"/pipeline-runs/{pipeline_run}$"))
