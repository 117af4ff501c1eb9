"""Live in every tab (issue 23): with 20 run pages streaming in one browser, another page loads in ≤ 1 s.

A real Chromium (Debian's, as the browser tests use) against a real web (`playdeck web`, MariaDB): 20
running runs, a tab on each, every tab receiving its lines; then /runs is loaded in a 21st tab, again
and again, and the time to its ``load`` event is measured. Before the tabs shared one stream, six tabs
used up the browser's connections to the host and the next page waited until a stream ended.
"""

from __future__ import annotations

import time

from bench.harness import Row, Stack, loadavg, percentile

TABS = 20
LOADS = 20
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench-tabs-password"
USER = "tabs"


def _running_runs(count: int) -> list[int]:
    """Runs a worker has claimed, as far as the database says; their lines are written here."""
    from playdeck import db
    from playdeck.runs.requests import RunRequest, request_run
    from playdeck.runs.transitions import claim_run

    ids = []
    for _ in range(count):
        with db.session_scope() as session:
            run_id = request_run(session, RunRequest("tabs", "local")).id
        with db.session_scope() as session:
            claim_run(session, run_id, "benchhost", 1)
        ids.append(run_id)
    return ids


def _emit(run_id: int, counter: int) -> None:
    from playdeck import db
    from playdeck.runs.events import event_row, store_events

    row = event_row(run_id, {"counter": counter, "event": "runner_on_ok", "stdout": f"run {run_id} line {counter}"})
    with db.session_scope() as session:
        store_events(session, run_id, [row])


def _page_loads(page) -> list[float]:
    """Milliseconds to /runs's ``load`` event, LOADS times."""
    loads = []
    for _ in range(LOADS):
        started = time.monotonic()
        page.goto("/runs", wait_until="load")
        loads.append((time.monotonic() - started) * 1000)
    return loads


def _still_streaming(tabs: list, runs: list[int]) -> int:
    """How many tabs show a line written after the loads (each waited for, up to 30 s)."""
    for run_id in runs:
        _emit(run_id, 3)
    shown = 0
    for tab, run_id in zip(tabs, runs, strict=True):
        try:
            tab.locator("#log .log-line", has_text=f"run {run_id} line 3").wait_for(timeout=30_000)
            shown += 1
        except Exception:  # noqa: BLE001 - a Playwright timeout: this tab is counted as not streaming
            pass
    return shown


def _measure(stack: Stack) -> tuple[list[float], list[float], int]:
    from playwright.sync_api import sync_playwright

    runs = _running_runs(TABS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        context = browser.new_context(base_url=f"http://127.0.0.1:{stack.port}")
        context.set_default_timeout(60_000)
        login = context.new_page()
        login.goto("/login")
        login.get_by_label("User name").fill(USER)
        login.get_by_label("Password").fill(PASSWORD)
        login.get_by_role("button", name="Log in").click()
        login.wait_for_url("**/")
        alone = _page_loads(login)
        tabs = []
        for run_id in runs:
            tab = context.new_page()
            tab.goto(f"/runs/{run_id}")
            tabs.append(tab)
        for counter in (1, 2):
            for run_id in runs:
                _emit(run_id, counter)
            # Every tab streaming: each shows its newest line.
            for tab, run_id in zip(tabs, runs, strict=True):
                tab.locator("#log .log-line", has_text=f"run {run_id} line {counter}").wait_for()
        loads = _page_loads(context.new_page())
        streaming = _still_streaming(tabs, runs)
        browser.close()
    return alone, loads, streaming


def run() -> list[Row]:
    with Stack("production", worker=False) as stack:
        stack.register_project("tabs", "trivial.yml", {"local": "local1.ini"}, lock_deploys=False)
        from playdeck import db
        from playdeck.auth import users

        with db.session_scope() as session:
            users.create_user(session, USER, "admin", PASSWORD)
        alone, loads, streaming = _measure(stack)
        load = loadavg()
    return [
        Row(
            f"page load with {TABS} live run tabs open (p95)",
            percentile(loads, 0.95),
            "ms",
            1000,
            note=f"/runs loaded {LOADS} times, max {max(loads):.0f} ms (no tabs open: p95 "
            f"{percentile(alone, 0.95):.0f} ms); {streaming}/{TABS} tabs still streaming after; load {load}",
        )
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
