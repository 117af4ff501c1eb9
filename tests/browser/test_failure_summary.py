"""A run that failed opens with its failure summary, and the summary's links jump to the failing line of the
log, loading the earlier lines it takes (the failure is far above the log's tail)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from playdeck import db, projects
from playdeck.runs.requests import RunRequest
from playdeck.settings import get_settings
from tests.browser.browser_testing import screenshot
from tests.conftest import TERMINAL, queue_run, wait_for_state

# More log lines after the failure than the run page loads at first (its tail of 200 events).
CHATTER = 300


def test_a_failed_run_opens_with_its_summary_whose_link_jumps_to_the_failing_line(page: Page) -> None:
    with db.session_scope() as session:
        projects.add_project(session, "switchy", "switch_deploy.yml", {"dev": "local2.ini"})
    state_dir = get_settings().run_writable_paths[0] / "switchy-hosts"
    state_dir.mkdir()
    request = RunRequest(
        project="switchy",
        environment="dev",
        version="3.0.0",
        extra_vars={"state_dir": str(state_dir), "fail_hosts": ["host1"], "chatter": CHATTER},
    )
    run_id = queue_run(request).id
    assert wait_for_state(run_id, TERMINAL) == "failed"

    page.goto(f"/runs/{run_id}")
    banner = page.locator("#failure-summary")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Run failed on 1 host: host1")
    expect(banner).to_contain_text("health check failed on host1")
    expect(banner).to_contain_text("3.0.0 failed on host1; no earlier version to go back to")
    # host1 stays switched (nothing to go back to), host2 succeeded.
    expect(page.locator("#host-changes")).to_contain_text("host1 → 3.0.0; host2 → 3.0.0")
    # The banner comes before the run's facts: the first thing the page says.
    assert page.evaluate(
        "document.getElementById('failure-summary').compareDocumentPosition(document.querySelector('dl.facts'))"
        " & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    link = banner.get_by_role("link", name="Check health")
    target = re.fullmatch(r"#(event-\d+)", link.get_attribute("href")).group(1)
    expect(page.locator("#log .log-line").first).to_be_attached()
    assert page.locator(f"#{target}").count() == 0, "the failing line is above the tail the page loaded"
    screenshot(page, "failed-run-summary")

    link.click()
    line = page.locator(f"#{target}")
    expect(line).to_be_visible()
    expect(line).to_have_class(re.compile(r"\blog-target\b"))
    expect(line).to_contain_text("health check failed on host1")
    expect(line).to_be_in_viewport()
    assert page.url.endswith(f"#{target}")

    # Opened from the link itself (a CLI's or a webhook's), the page goes to the line too.
    page.goto("about:blank")
    page.goto(f"/runs/{run_id}#{target}")
    expect(page.locator(f"#{target}")).to_be_in_viewport()
