"""Approvals in a real browser, two people in two browser sessions: a developer deploys to an environment that
requires approval and sees it wait; a release manager opens the run page, approves with a comment, and the
run is queued, executed by the real worker and succeeds, which the requester's page shows as it happens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from playdeck import db, environments
from tests.browser.browser_testing import screenshot
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_flows import LONG_MS, deploy_from_dashboard
from tests.conftest import make_user

PASSWORD = "approvals-browser-password"


@pytest.fixture
def person(browser, site_env) -> Iterator:
    """Opens a browser session of its own for a user (created with a role), logged in through the login page."""
    contexts = []
    errors: list[str] = []

    def log_in(name: str, role: str, **grants) -> Page:
        make_user(name, role, password=PASSWORD, **grants)
        context = browser.new_context(base_url=site_env.url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{name}: {error}"))
        page.goto("/login")
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{site_env.url}/")
        return page

    yield log_in
    for context in contexts:
        context.close()
    assert not errors, f"script errors in the browser: {errors}"


def test_a_second_person_approves_from_the_run_page_and_the_run_succeeds(person) -> None:
    with db.session_scope() as session:
        environments.set_options(session, "chatty", "prod", approvals_required=1, approver_roles=["release_manager"])
    requester = person("dana", "developer", projects=("chatty",))
    approver = person("rhea", "release_manager")

    run_id = deploy_from_dashboard(requester, "chatty", "prod", "ticks: 2\ntick_seconds: 0.1")
    expect(requester.locator("#state-badge")).to_have_text("awaiting_approval")
    requester.evaluate("window.notReloaded = true")
    expect(requester.locator("#approval-status")).to_contain_text("0 of 1 approval")
    expect(requester.locator("#approval-why-not")).to_contain_text("never decides on their own run")
    expect(requester.get_by_role("button", name="Approve")).to_have_count(0)
    screenshot(requester, "approval-requested")

    approver.goto(f"/runs/{run_id}")
    expect(approver.locator("#state-badge")).to_have_text("awaiting_approval")
    approver.get_by_label("Comment").fill("ship it")
    approver.get_by_role("button", name="Approve").click()
    approver.wait_for_url(f"**/runs/{run_id}")
    expect(approver.locator(".decision-approve")).to_contain_text("rhea")
    expect(approver.locator(".decision-approve")).to_contain_text("ship it")

    # The requester's page, never reloaded, follows the run through the worker to its end.
    expect(requester.locator("#state-badge")).to_have_text("successful", timeout=LONG_MS)
    expect(approver.locator("#state-badge")).to_have_text("successful", timeout=LONG_MS)
    assert "PLAY RECAP" in requester.locator("#log").inner_text()
    assert requester.evaluate("window.notReloaded") is True
    screenshot(approver, "approved-and-successful")
