"""A long run's log in a real browser: search the whole run for a line that is not loaded and jump to
it, filter by host and status, jump to the first failure, open a #event-<counter> link, and move through
the log without click trains."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from playdeck import db
from playdeck.runs.events import event_row, store_events
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run, record_host_summaries

EVENTS = 1500
NEEDLE_AT = 40
FAILURE_AT = 700
TARGET = re.compile(r"\blog-target\b")


def _event(n: int) -> dict:
    host = "web1" if n % 2 else "web2"
    if n == FAILURE_AT:
        stdout = f"\x1b[0;31mfatal: [{host}]: FAILED! => boom\x1b[0m"
        return {"counter": n, "event": "runner_on_failed", "stdout": stdout, "event_data": {"host": host}}
    text = f"ok: [{host}] line {n}" + (" the Needle here" if n == NEEDLE_AT else "")
    return {"counter": n, "event": "runner_on_ok", "stdout": f"\x1b[0;32m{text}\x1b[0m",
            "event_data": {"host": host, "res": {"changed": False}}}  # fmt: skip


@pytest.fixture
def long_run(site_env) -> int:
    """A failed run of 1,500 events over web1 and web2 (odd and even counters), stored the way a worker
    stores them: one failure at 700, "the Needle here" at 40, far before the tail the page loads."""
    with db.session_scope() as session:
        run_id = request_run(session, RunRequest("chatty", "prod")).id
    with db.session_scope() as session:
        assert claim_run(session, run_id, "testhost", 1)
    with db.session_scope() as session:
        store_events(session, run_id, [event_row(run_id, _event(n)) for n in range(1, EVENTS + 1)])
    with db.session_scope() as session:
        record_host_summaries(session, run_id, {"ok": {"web1": 750, "web2": 749}, "failures": {"web2": 1}})
        assert finish_run(session, run_id, RunState.FAILED, rc=2)
    return run_id


def lines(page: Page):
    return page.locator("#log .log-line")


def test_a_search_finds_a_line_that_is_not_loaded_and_jumps_to_it(page: Page, long_run: int) -> None:
    page.goto(f"/runs/{long_run}")
    expect(lines(page)).to_have_count(200)
    expect(lines(page).last).to_contain_text("line 1500")
    expect(page.locator(f"#event-{NEEDLE_AT}")).to_have_count(0)

    page.get_by_label("Search the log").fill("needle HERE")
    page.get_by_label("Search the log").press("Enter")
    expect(page.locator("#log-search-count")).to_have_text("1 match (showing 1–1)")
    expect(page.get_by_role("list", name="Search hits")).to_contain_text(
        f"#{NEEDLE_AT} web2 ok: [web2] line 40 the Needle here"
    )
    needle = page.locator(f"#event-{NEEDLE_AT}")
    expect(needle).to_have_class(TARGET)
    expect(needle).to_be_in_viewport()
    expect(needle).to_have_class(re.compile(r"\bsearch-hit\b"))

    # Many hits: counted over the whole run, paged, stepped through.
    page.get_by_label("Search the log").fill("] line 1")  # 1, 10–19, 100–199, 1000–1500
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#log-search-count")).to_have_text("612 matches (showing 1–50)")
    expect(page.locator("#event-1")).to_have_class(TARGET)
    page.get_by_role("button", name="Next hit").click()
    expect(page.locator("#event-10")).to_have_class(TARGET)
    expect(page.locator("#event-1")).not_to_have_class(TARGET)
    page.get_by_role("list", name="Search hits").get_by_role("button").nth(49).click()  # the page's last hit
    expect(page.locator("#event-138")).to_have_class(TARGET)  # 1, 10–19, 100–138: the 50th; loaded and shown
    page.get_by_role("button", name="Next hit").click()  # the next page's first
    expect(page.locator("#log-search-count")).to_have_text("612 matches (showing 51–100)")

    page.get_by_label("Search the log").fill("not in this log")
    page.get_by_label("Search the log").press("Enter")
    expect(page.locator("#log-search-count")).to_have_text("No match in the whole log")


def test_filters_by_host_and_status_cover_the_whole_run(page: Page, long_run: int) -> None:
    page.goto(f"/runs/{long_run}")
    expect(lines(page)).to_have_count(200)
    page.get_by_label("Host").select_option("web1")
    expect(lines(page).last).to_contain_text("ok: [web1] line 1499")
    expect(lines(page).filter(has_text="[web2]")).to_have_count(0)
    expect(lines(page)).to_have_count(200)

    page.get_by_label("Host").select_option("web2")
    page.get_by_label("Status").select_option("failed")
    expect(lines(page)).to_have_count(1)
    expect(lines(page)).to_have_text("fatal: [web2]: FAILED! => boom")

    page.get_by_label("Host").select_option("web1")
    expect(lines(page)).to_have_count(0)
    page.get_by_label("Host").select_option("")
    page.get_by_label("Status").select_option("")
    expect(lines(page).last).to_contain_text("line 1500")


def test_jump_to_the_first_failure_and_open_a_line_by_its_address(page: Page, long_run: int) -> None:
    page.goto(f"/runs/{long_run}")
    page.get_by_role("button", name="Jump to first failure").click()
    failure = page.locator(f"#event-{FAILURE_AT}")
    expect(failure).to_have_class(TARGET)
    expect(failure).to_be_in_viewport()
    assert page.url.endswith(f"/runs/{long_run}#event-{FAILURE_AT}")

    # A link from elsewhere (a failure summary, a chat message) opens the run on that line.
    page.goto(f"/runs/{long_run}#event-1234")
    expect(page.locator("#event-1234")).to_have_class(TARGET)
    expect(page.locator("#event-1234")).to_be_in_viewport()
    # A link within the page (the fragment alone changes) moves to its line too.
    page.evaluate("location.hash = '#event-321'")
    expect(page.locator("#event-321")).to_have_class(TARGET)
    expect(page.locator("#event-1234")).to_have_count(0)


def test_earlier_lines_load_while_scrolling_up_and_go_to_start(page: Page, long_run: int) -> None:
    page.goto(f"/runs/{long_run}")
    expect(lines(page)).to_have_count(200)
    page.locator("#log").hover()
    # Scrolling to the top of the log loads the next earlier page (1,000 events) by itself.
    page.mouse.wheel(0, -100_000)
    expect(lines(page)).to_have_count(1200)
    expect(lines(page).first).to_contain_text("line 301")
    page.mouse.wheel(0, -100_000)
    expect(lines(page)).to_have_count(EVENTS)
    expect(page.get_by_role("button", name="Load earlier lines")).to_be_hidden()  # nothing earlier left

    page.goto(f"/runs/{long_run}")
    page.get_by_role("button", name="Go to start").click()
    expect(lines(page).first).to_contain_text("line 1")
    expect(lines(page)).to_have_count(1000)
    # Back to the end, from where the log follows the run again.
    page.get_by_role("button", name="Go to end").click()
    expect(lines(page).last).to_contain_text("line 1500")
    expect(page.get_by_role("button", name="Following")).to_be_visible()
