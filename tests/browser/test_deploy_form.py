"""The deploy form in a real browser: a host picked for Limit from the environment's inventory, Enter in a
field does not deploy, and a protected environment's deploy asks in a dialog naming project, environment,
version and hosts before it goes."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import update

from playdeck import db
from playdeck.models import Environment, Project
from playdeck.runs.queries import get_run
from tests.browser.browser_testing import screenshot

RUN_URL = re.compile(r".*/runs/(\d+)$")


def protect(project: str, environment: str) -> None:
    with db.session_scope() as session:
        project_id = session.query(Project.id).filter_by(name=project).scalar()
        session.execute(
            update(Environment).where(Environment.project_id == project_id, Environment.name == environment)
            .values(protected=True)
        )  # fmt: skip


def test_pick_a_host_enter_does_not_deploy_confirm_then_deploy(page: Page) -> None:
    protect("chatty", "prod")
    page.goto("/projects/chatty/deploy?environment=prod")
    # The hosts of tests/inventory/local2.ini, offered for Limit.
    offered = page.locator("#limit-hosts option").evaluate_all("options => options.map(o => o.value)")
    assert offered == ["host1", "host2", "app"]
    expect(page.locator("#limit-host-names")).to_have_text("host1, host2")
    expect(page.locator("#now-running-version")).to_have_text("nothing deployed yet")

    page.get_by_label("Version").fill("7.0.1")
    limit = page.get_by_label("Limit")
    limit.fill("host2")
    # Enter in a one-line field: nothing is sent.
    limit.press("Enter")
    page.get_by_label("Version").press("Enter")
    expect(page.locator("#confirm-dialog")).not_to_be_visible()
    assert page.url.endswith("/projects/chatty/deploy?environment=prod")

    page.get_by_role("button", name="Deploy", exact=True).click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#confirm-project")).to_have_text("chatty")
    expect(dialog.locator("#confirm-environment")).to_have_text("prod")
    expect(dialog.locator("#confirm-version")).to_have_text("7.0.1")
    expect(dialog.locator("#confirm-hosts")).to_have_text("host2")
    screenshot(page, "deploy-confirmation")
    # Going back sends nothing; the form is as it was.
    dialog.get_by_role("button", name="Go back").click()
    expect(dialog).not_to_be_visible()
    assert page.url.endswith("/projects/chatty/deploy?environment=prod")

    # Ctrl+Enter asks too; this time the deploy goes.
    limit.press("Control+Enter")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Deploy").click()
    page.wait_for_url(RUN_URL)
    run_id = int(RUN_URL.match(page.url).group(1))
    with db.session_scope() as session:
        run = get_run(session, run_id)
        assert (run.project.name, run.environment.name, run.version, run.limit) == ("chatty", "prod", "7.0.1", "host2")
