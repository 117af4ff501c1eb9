"""The main flows in a real browser: deploy from the dashboard and watch the log grow, relaunch, cancel,
filter runs, edit a DNS record; the project page's charts; a phone-sized screen; the keyboard."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from playdeck import db
from playdeck.runs.events import event_row, store_events
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run, record_host_summaries
from playdeck.settings import get_settings
from tests.browser.browser_testing import USER, screenshot
from tests.browser.conftest import TIMEOUT_MS

RUN_URL = re.compile(r".*/runs/(\d+)$")
# A playbook's run on a busy two-core machine: generous, and only ever waited out when something is wrong.
LONG_MS = 90_000
# The outermost elements that stick out past the right edge of the screen.
WIDEST = """() => Array.from(document.querySelectorAll("body *"))
  .filter((el) => el.getBoundingClientRect().right > window.innerWidth
    && el.parentElement.getBoundingClientRect().right <= window.innerWidth)
  .slice(0, 5).map((el) => el.tagName + "." + el.className + " " + Math.round(el.getBoundingClientRect().right))"""


def run_id_of(page: Page) -> int:
    return int(RUN_URL.match(page.url).group(1))


def log_lines(page: Page) -> int:
    return page.locator("#log .log-line").count()


def deploy_from_dashboard(page: Page, project: str, environment: str, extra_vars: str) -> int:
    page.goto("/")
    page.get_by_role("link", name=f"Deploy {project} to {environment}").click()
    page.get_by_label("Extra variables").fill(extra_vars)
    page.get_by_role("button", name="Deploy").click()
    page.wait_for_url(RUN_URL)
    return run_id_of(page)


def test_deploy_from_the_dashboard_watch_the_log_grow_then_relaunch(page: Page) -> None:
    page.goto("/")
    screenshot(page, "dashboard")
    # The run ticks once, then waits for the test's go-ahead before five more: the page is open on a
    # running run, and later lines arrive while it watches, however slowly the browser loaded. The file
    # is in the site's dir, which the run's sandbox shows it (its own /tmp hides the rest).
    go_ahead = get_settings().run_writable_paths[0] / "go-ahead"
    extra_vars = f"ticks: 1\nticks_after: 5\ntick_seconds: 0.3\nrelease_file: {go_ahead}"
    run_id = deploy_from_dashboard(page, "chatty", "dev", extra_vars)
    # A mark on this document: still there at the end means the page was never reloaded.
    page.evaluate("window.notReloaded = true")

    expect(page.locator("#state-badge")).to_have_text("running", timeout=LONG_MS)
    first_item = page.locator("#log .log-line", has_text="item=0")
    expect(first_item.first).to_be_attached(timeout=LONG_MS)
    seen = log_lines(page)
    go_ahead.touch()
    expect(page.locator("#state-badge")).to_have_text("successful", timeout=LONG_MS)
    # Every later item's line and the recap arrived while the page stayed as it was.
    assert log_lines(page) >= seen + 5
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator("#run-duration")).not_to_have_text("—")  # filled in when the run ended
    expect(page.get_by_role("button", name="Load earlier lines")).to_be_hidden()  # the whole log is shown
    assert "PLAY RECAP" in page.locator("#log").inner_text()
    # Ansible's colours became styled spans; no escape sequence is left in the text.
    assert page.locator("#log span[class^='ansi-fg-']").count() > 0
    assert "\x1b" not in page.locator("#log").inner_text()
    expect(page.locator("#host-summary")).to_be_visible()
    expect(page.locator("#host-progress tr[data-host='host1'] td").nth(1)).not_to_have_text("0")

    # Search lists the run's matching lines and marks those shown.
    page.get_by_label("Search the log").fill("host2")
    expect(page.locator("#log-search-count")).to_contain_text(re.compile(r"\d+ match"))
    hits = page.get_by_role("list", name="Search hits").get_by_role("listitem")
    assert hits.count() > 0 and all("host2" in text for text in hits.all_inner_texts())
    marked = page.locator("#log .log-line.search-hit")
    assert marked.count() > 0 and all("host2" in text for text in marked.all_inner_texts())
    page.get_by_label("Search the log").fill("")
    follow = page.get_by_role("button", name="Following")
    follow.click()
    expect(page.locator("#log-follow")).to_have_attribute("aria-pressed", "false")
    screenshot(page, "run-successful")

    # Relaunch: a new run with the same parameters, its progress measured against this one.
    # It asks first, naming the run (confirm.js): accepted.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Relaunch", exact=True).click()
    page.wait_for_url(RUN_URL)
    assert run_id_of(page) != run_id
    expect(page.locator("#relaunch-of")).to_contain_text(f"run #{run_id}")
    expect(page.locator("#progress-baseline")).to_contain_text(f"run #{run_id}")
    expect(page.locator("#progress progress").first).to_be_visible()
    expect(page.locator("#state-badge")).to_have_text("successful", timeout=LONG_MS)
    expect(page.locator("#progress .progress-text")).to_contain_text("100 %")
    screenshot(page, "run-relaunched")


def test_cancel_a_running_deploy(page: Page) -> None:
    deploy_from_dashboard(page, "sleepy", "dev", "sleep_seconds: 300")
    expect(page.locator("#log")).to_contain_text("about to sleep", timeout=LONG_MS)
    expect(page.locator("#state-badge")).to_have_text("running")
    screenshot(page, "run-running")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel run").click()

    expect(page.locator("#state-badge")).to_have_text("canceled", timeout=LONG_MS)
    expect(page.locator("#relaunch")).to_be_visible()
    expect(page.locator("#cancel-form")).to_have_count(0)


def test_filter_runs(page: Page) -> None:
    # Finished runs made through the services a worker uses: no playbook needed to have something to filter.
    finished = {}
    for project, state, by in (("chatty", RunState.SUCCESSFUL, "bob"), ("sleepy", RunState.FAILED, "carol")):
        with db.session_scope() as session:
            run_id = request_run(
                session, RunRequest(project, "prod" if project == "chatty" else "dev", requested_by=by)
            ).id
        with db.session_scope() as session:
            assert claim_run(session, run_id, "testhost", 1)
        with db.session_scope() as session:
            assert finish_run(session, run_id, state, rc=0)
        finished[by] = run_id

    page.goto("/runs")
    page.get_by_label("Project").select_option("sleepy")
    page.get_by_label("State").select_option("failed")
    page.get_by_role("button", name="Filter").click()

    rows = page.locator("tr.run")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-run-id", str(finished["carol"]))
    assert "project=sleepy" in page.url and "state=failed" in page.url

    page.goto("/runs")
    page.get_by_label("Requested by").fill("bob")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr.run")).to_have_count(1)
    expect(page.locator("tr.run").first).to_have_attribute("data-run-id", str(finished["bob"]))


def test_edit_a_dns_record(page: Page) -> None:
    page.goto("/dns/example.test.")
    add = page.locator("#add-record")
    add.get_by_label("Name", exact=True).fill("www")
    add.get_by_label("Value", exact=True).fill("192.0.2.10")
    add.get_by_role("button", name="Add record").click()
    row = page.locator("tr.record", has_text="192.0.2.10")
    expect(row).to_have_count(1)

    row.get_by_role("link", name="Edit").click()
    edit = page.locator("#edit-record")
    edit.get_by_label("Value", exact=True).fill("192.0.2.20")
    edit.get_by_role("button", name="Save").click()

    expect(page.locator("tr.record", has_text="192.0.2.20")).to_have_count(1)
    expect(page.locator("tr.record", has_text="192.0.2.10")).to_have_count(0)
    screenshot(page, "dns-zone")


def test_project_page_draws_the_delivery_charts(page: Page) -> None:
    page.goto("/")
    page.get_by_role("link", name="chatty", exact=True).click()
    expect(page.get_by_role("heading", name="chatty", exact=True)).to_be_visible()
    expect(page.locator("figure.chart svg[role='img']")).to_have_count(4)
    page.get_by_label("Period").select_option("90")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="Delivery over the last 90 days")).to_be_visible()
    screenshot(page, "project")


def finished_run_with_hosts(hosts: list[str]) -> int:
    """A successful run of "chatty" whose recap counted every column for each of ``hosts``."""
    with db.session_scope() as session:
        run_id = request_run(session, RunRequest("chatty", "prod")).id
    with db.session_scope() as session:
        assert claim_run(session, run_id, "testhost", 1)
    stats = {name: dict.fromkeys(hosts, 12) for name in ("ok", "changed", "failures", "dark", "skipped", "rescued",
                                                           "ignored")}  # fmt: skip
    with db.session_scope() as session:
        record_host_summaries(session, run_id, stats)
        assert finish_run(session, run_id, RunState.SUCCESSFUL, rc=0)
    return run_id


def every_page(run_id: int) -> list[str]:
    """Every page a user reaches from the top bar and the pages they link to."""
    return [
        "/", "/runs", f"/runs/{run_id}", "/projects/chatty", "/projects/chatty/deploy?environment=prod",
        "/attention", "/dns", "/dns/example.test.", "/dns/example.test./history", "/audit", "/admin/users",
        f"/admin/users/{USER}", "/admin/projects", "/admin/projects/chatty", "/projects/chatty/webhooks",
        "/admin/notifications", "/freeze-windows", "/projects/chatty/schedules", "/account", "/api/docs",
    ]  # fmt: skip


def test_a_phone_sized_screen_needs_no_sideways_scrolling(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    run_id = finished_run_with_hosts(["web-frontend-01.example.internal", "db1"])
    wide = {}
    for path in every_page(run_id):
        assert page.goto(path).ok, path
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            wide[path] = f"{overflow}px too wide: {page.evaluate(WIDEST)}"
    assert wide == {}
    page.goto("/")
    screenshot(page, "dashboard-phone")


# Every visible element's own text whose WCAG contrast with the background it is drawn on is below
# ``minimum``: each colour as computed, the background the nearest one that is not transparent.
LOW_CONTRAST = """([scope, minimum]) => {
  const parse = (text) => {
    const parts = text.match(/rgba?\\(([^)]*)\\)/)[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return {r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1};
  };
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const colour = parse(getComputedStyle(e).backgroundColor);
      if (colour.a > 0) return colour;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  return Array.from(document.querySelectorAll(scope)).filter((el) =>
    el.getClientRects().length && getComputedStyle(el).visibility === "visible"
    && !el.closest(".visually-hidden")
    && Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim())
  ).map((el) => {
    const contrast = ratio(parse(getComputedStyle(el).color), background(el));
    return [el.tagName + "." + el.className + " " + el.textContent.trim().slice(0, 30), contrast];
  }).filter(([, contrast]) => contrast < minimum).slice(0, 8);
}"""


def test_the_dark_theme_is_dark_and_every_page_readable(page: Page) -> None:
    page.emulate_media(color_scheme="dark")
    run_id = finished_run_with_hosts(["web1", "db1"])
    unreadable = {}
    for path in every_page(run_id):
        assert page.goto(path).ok, path
        body = page.locator("body").evaluate(
            "(el) => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color]"
        )
        assert body == ["rgb(20, 23, 28)", "rgb(228, 231, 236)"], f"{path} is not dark: {body}"
        low = page.evaluate(LOW_CONTRAST, ["main *, .topbar *", 4.5])
        if low:
            unreadable[path] = low
    assert unreadable == {}
    page.goto(f"/runs/{run_id}")
    screenshot(page, "run-dark")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_top_bar_keeps_its_contrast_in_either_theme(page: Page, scheme: str) -> None:
    page.emulate_media(color_scheme=scheme)
    page.goto("/runs")
    expect(page.locator(".topbar .user")).to_be_visible()
    assert page.evaluate(LOW_CONTRAST, [".topbar *", 4.5]) == []
    # The state badges too, on the page under the bar.
    finished_run_with_hosts(["web1"])
    page.goto("/runs")
    expect(page.locator(".badge").first).to_be_visible()
    assert page.evaluate(LOW_CONTRAST, [".badge", 4.5]) == []


def test_the_signed_in_users_name_is_readable_on_the_bar(page: Page) -> None:
    page.goto("/runs")
    name = page.locator(".topbar .user")
    expect(name).to_be_visible()
    colour = name.evaluate("(el) => getComputedStyle(el).color")
    bar = page.locator(".topbar").evaluate("(el) => getComputedStyle(el).backgroundColor")
    assert colour != bar, f"the user's name is drawn in the bar's own colour {bar}"


def test_the_keyboard_reaches_the_content_first(page: Page) -> None:
    page.goto("/runs")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_a_long_log_shows_its_tail_and_loads_earlier_lines_on_demand(page: Page) -> None:
    # 450 events stored the way a worker stores them, with colours and text that looks like HTML.
    with db.session_scope() as session:
        run_id = request_run(session, RunRequest("chatty", "prod")).id
    with db.session_scope() as session:
        assert claim_run(session, run_id, "testhost", 1)
    rows = [
        event_row(
            run_id,
            {
                "counter": n,
                "event": "runner_on_ok",
                "stdout": f"\x1b[0;32mok: [host1] line {n}\x1b[0m <img src=x onerror=alert({n})>",
                "event_data": {"host": "host1"},
            },
        )
        for n in range(1, 451)
    ]
    with db.session_scope() as session:
        store_events(session, run_id, rows)
    with db.session_scope() as session:
        assert finish_run(session, run_id, RunState.SUCCESSFUL, rc=0)

    page.goto(f"/runs/{run_id}")
    lines = page.locator("#log .log-line")
    expect(lines).to_have_count(200)  # the tail only
    expect(lines.first).to_contain_text("line 251")
    expect(lines.last).to_contain_text("line 450")
    # Colours became classes; the markup-looking text stayed text.
    expect(lines.last.locator("span.ansi-fg-32")).to_have_text("ok: [host1] line 450")
    expect(lines.last).to_contain_text("<img src=x onerror=alert(450)>")
    assert page.locator("#log img").count() == 0

    # Earlier lines come a large page at a time (1,000 events): one click here, or scrolling up.
    page.get_by_role("button", name="Load earlier lines").click()
    expect(lines).to_have_count(450)
    expect(lines.first).to_contain_text("line 1")
    expect(page.get_by_role("button", name="Load earlier lines")).to_be_hidden()  # nothing earlier left


@pytest.fixture
def schedule_page(browser, site_env, signed_in) -> Iterator[Page]:
    """``page``, except that the console may show the preview's 400 for a half-typed expression (the API's
    answer to bad input); a script error still fails the test."""
    context = browser.new_context(base_url=site_env.url, storage_state=str(signed_in))
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors


def test_add_a_schedule_with_the_live_preview_of_its_next_times(schedule_page: Page) -> None:
    page = schedule_page
    page.goto("/projects/chatty")
    page.locator("#project-schedules").click()
    expect(page.locator("#schedules")).to_contain_text("No schedules yet.")
    preview = page.locator("#schedule-preview-times li")
    expect(preview).to_have_count(5)  # the default expression's, on load
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_label("Cron expression (minute hour day-of-month month day-of-week)").fill("30 4 * * *")
    # Each time in the zone (04:30 at +01:00 or +02:00) and in UTC (02:30 or 03:30 at +00:00).
    expect(preview.first).to_have_text(re.compile(r"T04:30:00\+0[12]:00 \(.*T0[23]:30:00\+00:00\)"))
    expect(preview).to_have_count(5)
    page.get_by_label("Cron expression (minute hour day-of-month month day-of-week)").fill("30 25 * * *")
    expect(page.locator("#schedule-preview-error")).to_have_text(re.compile("hour: 25 is outside 0-23"))
    expect(preview).to_have_count(0)
    page.get_by_label("Cron expression (minute hour day-of-month month day-of-week)").fill("30 4 * * 1-5")
    page.get_by_role("button", name="Add schedule").click()
    row = page.locator("#schedules tbody tr").first
    expect(row).to_contain_text("30 4 * * 1-5 in Europe/Berlin")
    expect(row).to_contain_text("enabled")
    screenshot(page, "schedules")
    row.get_by_role("button", name="Pause").click()
    expect(page.locator("#schedules tbody tr").first).to_contain_text("paused")
