"""Live in every tab (issue 23): a browser's tabs share one stream, so twenty open run pages leave room to
load any other page; a hidden tab stops streaming and, shown again, catches up without a gap; the
duration ticks while a run runs."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import update

from playdeck import db, projects
from playdeck.models import Project
from playdeck.runs.events import event_row, store_events
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.transitions import claim_run

TABS = 20
# Far more than a page needs; far less than forever, which is how long a page waited behind six streams.
LOAD_MS = 10_000
# What a line may take to reach a tab on a busy two-core machine (the stream polls every 150 ms).
WAIT_MS = 30_000


@pytest.fixture(autouse=True)
def unlocked_project(site_env) -> None:
    """A project whose runs do not wait for each other's deploy lock, so twenty can run at once."""
    with db.session_scope() as session:
        if session.query(Project).filter_by(name="tabs").first() is None:
            projects.add_project(session, "tabs", "chatty.yml", {"dev": "local2.ini"})
            session.execute(update(Project).where(Project.name == "tabs").values(lock_deploys=False))


def running_run() -> int:
    """A run a worker has claimed (as far as the database says); the test writes its log lines as a
    worker would. It is never dispatched: the site's worker leaves it alone."""
    with db.session_scope() as session:
        run_id = request_run(session, RunRequest("tabs", "dev")).id
    with db.session_scope() as session:
        assert claim_run(session, run_id, "testhost", 1)
    return run_id


def emit(run_id: int, counters: range) -> None:
    rows = [
        event_row(run_id, {"counter": n, "event": "runner_on_ok", "stdout": f"run {run_id} line {n}",
                           "event_data": {"host": "host1"}})
        for n in counters
    ]  # fmt: skip
    with db.session_scope() as session:
        store_events(session, run_id, rows)


def log_counters(page: Page) -> list[int]:
    return page.eval_on_selector_all("#log .log-line", "lines => lines.map(l => Number(l.dataset.counter))")


def set_hidden(page: Page, hidden: bool) -> None:
    """What the browser does when the tab goes to the background (or comes back)."""
    page.evaluate(
        """(hidden) => {
          Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
          Object.defineProperty(document, "visibilityState", { configurable: true,
                                                               get: () => (hidden ? "hidden" : "visible") });
          document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


def test_twenty_live_run_tabs_leave_room_for_another_page(page: Page) -> None:
    context: BrowserContext = page.context
    runs = [running_run() for _ in range(TABS)]
    for run_id in runs:
        emit(run_id, range(1, 2))
    tabs = [page] + [context.new_page() for _ in runs[1:]]
    for tab, run_id in zip(tabs, runs, strict=True):
        tab.goto(f"/runs/{run_id}")
        expect(tab.locator("#log .log-line")).to_have_count(1, timeout=WAIT_MS)
    # Every tab is watching (the shared stream carries all twenty runs) ...
    for run_id in runs:
        emit(run_id, range(2, 3))
    for tab, run_id in zip(tabs, runs, strict=True):
        expect(tab.locator("#log .log-line").last).to_have_text(f"run {run_id} line 2", timeout=WAIT_MS)

    # ... and one more tab still loads a page, while they go on streaming.
    other = context.new_page()
    other.goto("/runs", timeout=LOAD_MS)
    expect(other.locator("table.runs")).to_be_visible(timeout=LOAD_MS)
    for run_id in runs:
        emit(run_id, range(3, 4))
    for tab, run_id in zip(tabs, runs, strict=True):
        expect(tab.locator("#log .log-line").last).to_have_text(f"run {run_id} line 3", timeout=WAIT_MS)
        assert log_counters(tab) == [1, 2, 3]


def test_a_hidden_tab_stops_streaming_and_catches_up_without_a_gap_when_shown(page: Page) -> None:
    run_id = running_run()
    emit(run_id, range(1, 6))
    page.goto(f"/runs/{run_id}")
    expect(page.locator("#log .log-line")).to_have_count(5, timeout=WAIT_MS)
    # A second tab on the same run: what reaches it would have reached the first one too.
    witness = page.context.new_page()
    witness.goto(f"/runs/{run_id}")
    expect(witness.locator("#log .log-line")).to_have_count(5, timeout=WAIT_MS)

    set_hidden(page, True)
    emit(run_id, range(6, 11))
    expect(witness.locator("#log .log-line")).to_have_count(10, timeout=WAIT_MS)
    assert log_counters(page) == [1, 2, 3, 4, 5], "a hidden tab kept streaming"

    set_hidden(page, False)
    expect(page.locator("#log .log-line")).to_have_count(10, timeout=WAIT_MS)
    emit(run_id, range(11, 13))
    expect(page.locator("#log .log-line")).to_have_count(12, timeout=WAIT_MS)
    assert log_counters(page) == list(range(1, 13))


def test_the_duration_ticks_while_the_run_runs(page: Page) -> None:
    run_id = running_run()
    page.goto(f"/runs/{run_id}")
    duration = page.locator("#run-duration")
    first = duration.inner_text()
    assert first.endswith(" s"), first
    # No reload and no new state from the server: the page counts on by itself.
    expect(duration).not_to_have_text(first, timeout=5_000)


def test_without_shared_worker_one_leader_tab_streams_for_the_others(page: Page) -> None:
    """Browsers without SharedWorker: the tabs elect a leader (Web Locks) that holds the one stream and
    hands each tab its lines over a BroadcastChannel; when the leader closes, another tab takes over."""
    # No SharedWorker; each EventSource a tab opens is counted in that tab.
    page.context.add_init_script(
        """delete window.SharedWorker;
        window.streamsOpened = 0;
        const Original = window.EventSource;
        window.EventSource = function (url) { window.streamsOpened++; return new Original(url); };"""
    )
    run_id = running_run()
    emit(run_id, range(1, 3))
    tabs = [page, page.context.new_page(), page.context.new_page()]
    for tab in tabs:
        tab.goto(f"/runs/{run_id}")
        expect(tab.locator("#log .log-line")).to_have_count(2, timeout=WAIT_MS)
        assert tab.evaluate("typeof SharedWorker") == "undefined"
    emit(run_id, range(3, 5))
    for tab in tabs:
        expect(tab.locator("#log .log-line")).to_have_count(4, timeout=WAIT_MS)
    streaming = [tab.evaluate("window.streamsOpened") > 0 for tab in tabs]
    assert streaming == [True, False, False], "one tab, the first, holds the stream for all three"

    page.close()
    emit(run_id, range(5, 7))
    for tab in tabs[1:]:
        expect(tab.locator("#log .log-line")).to_have_count(6, timeout=WAIT_MS)
        assert log_counters(tab) == list(range(1, 7))
    assert sum(tab.evaluate("window.streamsOpened") > 0 for tab in tabs[1:]) == 1, "one new leader"
