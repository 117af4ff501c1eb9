"""Freeze windows in a real browser: a release manager (here an admin) adds an ad hoc window on the freeze page,
the dashboard and the deploy form show it, a deploy without a reason is refused with the window's name and
end, and one with an override reason goes through and shows the reason on its run page."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.browser.browser_testing import screenshot

RUN_URL = re.compile(r".*/runs/(\d+)$")


def test_the_deploy_form_shows_the_window_refuses_then_takes_an_override(page: Page, site_env) -> None:
    now = dt.datetime.now(dt.UTC)
    start, end = now - dt.timedelta(minutes=30), now + dt.timedelta(hours=2)
    page.goto("/freeze-windows")
    page.get_by_label("Name").fill("Incident 7")
    page.get_by_label("Applies to").fill("chatty/prod")
    page.get_by_label("Kind").select_option("adhoc")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_label("Start").fill(start.isoformat(timespec="minutes"))
    page.get_by_label("End (deploys").fill(end.isoformat(timespec="minutes"))
    page.get_by_label("Reason").fill("payment provider outage")
    page.get_by_role("button", name="Add freeze window").click()
    expect(page.locator("#freeze-windows tr[data-name='Incident 7']")).to_contain_text("chatty/prod")

    page.goto("/")
    frozen_tag = page.locator("#project-chatty tr[data-environment='prod'] .tag.frozen")
    expect(frozen_tag).to_contain_text("frozen until")
    expect(page.locator("#project-chatty tr[data-environment='dev'] .tag.frozen")).to_have_count(0)

    page.goto("/projects/chatty/deploy?environment=prod")
    status = page.locator("#freeze-status li[data-environment='prod']")
    expect(status).to_contain_text("frozen by Incident 7")
    berlin = end.astimezone(ZoneInfo("Europe/Berlin"))
    expect(status).to_contain_text(f"until {berlin:%a %Y-%m-%d %H:%M} {berlin.tzname()}")
    expect(page.locator("#freeze-status li[data-environment='dev']")).to_contain_text("not frozen")
    screenshot(page, "deploy-form-frozen")

    page.get_by_role("button", name="Deploy").click()
    expect(page.locator(".error")).to_contain_text("deploys to chatty/prod are frozen by 'Incident 7'")
    expect(page.locator(".error")).to_contain_text(f"({end:%Y-%m-%d %H:%M} UTC)")
    assert not RUN_URL.match(page.url)

    page.get_by_label("Override reason").fill("hotfix for the outage")
    page.get_by_role("button", name="Deploy").click()
    page.wait_for_url(RUN_URL)
    expect(page.locator("#freeze-override")).to_have_text("hotfix for the outage")
