"""Browser tests: Playwright drives Debian's Chromium against the real web (`playdeck web`, gunicorn), a real
worker, MariaDB and Redis. One site per module (starting the web and a worker is the slow part); each
test gets a fresh browser context and logs in through the login page like a person.

Chromium comes from the distribution (`apt-get install chromium`, done by scripts/test); nothing is
downloaded at test time. A missing Chromium fails the tests, it never skips them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest

from playdeck import db, projects
from testing.servers import Worker, kill_run_processes
from tests.browser.browser_testing import PASSWORD, USER
from tests.cli.conftest import serve_web
from tests.conftest import (
    MARIADB_HOST,
    MARIADB_PORT,
    configure_test_playbooks,
    leased_redis_db,
    make_user,
    reset_process_state,
)
from tests.dns.conftest import make_zone

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What a page may take to show what a test waits for (a worker picking a run up included).
TIMEOUT_MS = 30_000


@dataclass
class Site:
    url: str
    env: dict[str, str]


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`; scripts/test does)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: `.venv/bin/pip install -e '.[test]'` (never `playwright install`)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _fresh_database() -> str:
    name = f"playdeck_browser_{uuid.uuid4().hex[:12]}"
    conn = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user="root", password="", autocommit=True)
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    conn.close()
    return name


def _drop_database(name: str) -> None:
    conn = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user="root", password="", autocommit=True)
    with conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
    conn.close()


@pytest.fixture(scope="module")
def site(mariadb_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The web on a free port and one worker (deploy queue; DNS runs stay queued), on a database of
    the module's own, with projects ``chatty`` (steady output) and ``sleepy`` (a long task to cancel)."""
    tmp = tmp_path_factory.mktemp("browser")
    monkeypatch = pytest.MonkeyPatch()
    database = _fresh_database()
    with leased_redis_db() as broker_url:
        worker: Worker | None = None
        web = None
        try:
            monkeypatch.setenv("PLAYDECK_DATA_DIR", str(tmp / "data"))
            # Made before any test's own tmp dir: the module's is where its runs may read and write.
            monkeypatch.setenv("PLAYDECK_RUN_WRITABLE_PATHS", str(tmp))
            configure_test_playbooks(
                monkeypatch, tmp, f"mysql+pymysql://root@{mariadb_server}/{database}?charset=utf8mb4", broker_url
            )
            make_user(USER, "admin", password=PASSWORD)
            with db.session_scope() as session:
                projects.add_project(session, "chatty", "chatty.yml", {"dev": "local2.ini", "prod": "local2.ini"})
                projects.add_project(session, "sleepy", "sleep_long.yml", {"dev": "local2.ini"})
            make_zone()
            # The web first: it must answer within serve_web's deadline, before a worker competes for the CPU.
            web = serve_web(monkeypatch, tmp)
            url = next(web)
            worker = Worker(tmp / "worker.log", queues="deploy", concurrency=2)
            yield Site(url=url, env={k: v for k, v in os.environ.items() if k.startswith("PLAYDECK_")})
        finally:
            if web is not None:
                web.close()  # stops gunicorn
            if worker is not None:
                worker.stop()
                kill_run_processes(worker.install)
            monkeypatch.undo()
            reset_process_state()
            _drop_database(database)


@pytest.fixture
def site_env(site: Site, monkeypatch: pytest.MonkeyPatch) -> Site:
    """The module site's settings in this test's process too (for direct DB checks)."""
    for name, value in site.env.items():
        monkeypatch.setenv(name, value)
    reset_process_state()
    return site


@pytest.fixture(scope="module")
def signed_in(browser, site: Site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Logs in once through the login page; each test's context starts with that session's cookies."""
    context = browser.new_context(base_url=site.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("User name").fill(USER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site.url}/")
    state = tmp_path_factory.mktemp("browser-session") / "state.json"
    context.storage_state(path=str(state))
    context.close()
    return state


@pytest.fixture
def page(browser, site_env: Site, signed_in: Path) -> Iterator:
    """A new browser context, signed in as an admin; fails the test on any script error it saw."""
    context = browser.new_context(
        base_url=site_env.url, viewport={"width": 1280, "height": 900}, storage_state=str(signed_in)
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    # A form refused with a 4xx comes back as a page saying why: the browser logs its status as an error, which
    # is the page's answer, not a script's failure. Any other failed load still counts.
    refused_pages: set[str] = set()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "response",
        lambda response: (
            refused_pages.add(response.url)
            if response.request.resource_type == "document" and 400 <= response.status < 500
            else None
        ),
    )
    page.on(
        "console",
        lambda message: (
            errors.append(f"{message.text} ({message.location.get('url')})") if message.type == "error" else None
        ),
    )
    yield page
    context.close()
    errors = [error for error in errors if not any(error.endswith(f"({url})") for url in refused_pages)]
    assert not errors, f"errors in the browser console: {errors}"
