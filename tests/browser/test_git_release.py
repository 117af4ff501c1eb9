"""A git project in a real browser: pick a tag in the deploy form's picker, see what will ship, deploy and wait
for success, then roll back from the project page and see the rollback run linked to the run it replaces; promote
a successful staging run to production from its run page and follow the links between the two.
The repository is a file:// one made by the test (tags v1.0 and v1.1); the worker checks out each run's commit."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from playdeck import db, environments
from testing.git_servers import RepoBuilder
from tests.browser.browser_testing import screenshot
from tests.git.projects import add_git_project, add_staged_project

RUN_URL = re.compile(r".*/runs/(\d+)$")
LONG_MS = 90_000
PLAYBOOK = "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=deployed\n"
INVENTORY = (
    "[app]\nhost1\n\n[all:vars]\nansible_connection=local\nansible_python_interpreter={{ ansible_playbook_python }}\n"
)


def make_release_project(base) -> RepoBuilder:
    repo = RepoBuilder(base, "release")
    repo.commit("first release", {"deploy/site.yml": PLAYBOOK, "deploy/inventory.ini": INVENTORY})
    repo.tag("v1.0", "version 1.0")
    repo.commit("second release", {"VERSION": "1.1\n"})
    repo.tag("v1.1")
    with db.session_scope() as session:
        add_git_project(session, "release", repo.url, environments={"staging": "deploy/inventory.ini"})
    return repo


def deploy_tag(page: Page, tag: str, expected_summary: str) -> int:
    page.goto("/projects/release/deploy?environment=staging")
    page.get_by_label("Branch, tag or commit").fill("v1")
    page.locator("#ref-options button", has_text=tag).first.click()
    expect(page.get_by_label("Branch, tag or commit")).to_have_value(tag)
    expect(page.locator("#ship-summary")).to_contain_text(expected_summary)
    screenshot(page, f"git-deploy-{tag}")
    page.get_by_role("button", name="Deploy").click()
    page.wait_for_url(RUN_URL)
    expect(page.locator("#state-badge")).to_have_text("successful", timeout=LONG_MS)
    return int(RUN_URL.match(page.url).group(1))


def test_pick_a_tag_see_what_ships_deploy_then_roll_back(page: Page, site_env, tmp_path) -> None:
    make_release_project(tmp_path / "repos")

    first = deploy_tag(page, "v1.0", "nothing has been deployed there from git yet")
    second = deploy_tag(page, "v1.1", "1 commit")
    page.goto("/projects/release/deploy?environment=staging")
    page.get_by_label("Branch, tag or commit").fill("v1.0")
    expect(page.locator("#ship-summary")).to_contain_text("older than what is deployed: a rollback")

    page.goto("/projects/release")
    history = page.locator("#deployed-staging")
    expect(history.locator("tr.current")).to_have_attribute("data-run", str(second))
    history.get_by_role("button", name="Roll back staging").click()
    page.wait_for_url(RUN_URL)
    rollback = int(RUN_URL.match(page.url).group(1))
    expect(page.locator("#rollback-of")).to_contain_text(f"Rollback of run #{second}")
    expect(page.locator("#state-badge")).to_have_text("successful", timeout=LONG_MS)
    page.locator("#rollback-of a").click()
    page.wait_for_url(re.compile(rf".*/runs/{second}$"))

    page.goto("/projects/release")
    current = page.locator("#deployed-staging tr.current")
    expect(current).to_have_attribute("data-run", str(rollback))
    expect(current).to_contain_text("first release")  # v1.0's commit again, as run #first deployed it
    assert first < second < rollback
    screenshot(page, "git-rolled-back")


def test_promote_a_successful_staging_run_to_production_from_its_run_page(page: Page, site_env, tmp_path) -> None:
    repo = RepoBuilder(tmp_path / "repos", "promo")
    repo.commit("first release", {"deploy/site.yml": PLAYBOOK, "deploy/inventory.ini": INVENTORY})
    repo.tag("v1.0")
    with db.session_scope() as session:
        add_staged_project(session, "promo", repo.url)
        environments.set_options(session, "promo", "production", requires_success_in="staging")
    page.goto("/projects/promo/deploy?environment=staging")
    page.get_by_label("Branch, tag or commit").fill("v1.0")
    page.get_by_role("button", name="Deploy").click()
    page.wait_for_url(RUN_URL)
    staging = int(RUN_URL.match(page.url).group(1))
    expect(page.locator("#state-badge")).to_have_text("successful", timeout=LONG_MS)

    # Shown once the run page sees the run succeed, without a reload.
    page.get_by_role("button", name="Promote to production").click()
    page.wait_for_url(RUN_URL)
    production = int(RUN_URL.match(page.url).group(1))
    expect(page.locator("#promoted-from")).to_have_text(f"Promoted from run #{staging}")
    expect(page.locator(".commit code")).to_have_attribute("title", repo.head("v1.0"))
    expect(page.locator("#state-badge")).to_have_text("successful", timeout=LONG_MS)
    screenshot(page, "git-promoted")
    page.locator("#promoted-from a").click()
    page.wait_for_url(re.compile(rf".*/runs/{staging}$"))
    expect(page.locator("#promoted-to")).to_contain_text(f"production in run #{production}")
    assert staging < production
