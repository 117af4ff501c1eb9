"""``python -m bench ldap`` (issue 26): an LDAP login (search + bind + groups) on a local slapd, p95 ≤ 100 ms.

A throwaway OpenLDAP ``slapd`` (``testing.ldap_server``: LDAPS and StartTLS with a CA of its own, people and
three levels of nested groups) and bob, whose groups are oncall, then sre and ops through nesting: the login
walks all three levels. Measured one login after the other (what a person waits for), after a warm-up:

- ``authenticate`` in this process (service bind, search, bind as bob, group walk) over LDAPS and over StartTLS;
- for information, the whole web login on a production stack (MariaDB; ``playdeck web``): the form post that
  checks the throttle, asks the directory, maps the groups (a rule on sre), opens the session and audits it.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

from bench.harness import Row, Stack, free_port, loadavg, median, percentile

LOGINS = 200
WARM_UP = 20
TARGET_MS = 100.0
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]*)"')


def _timed(login: object, count: int = LOGINS) -> list[float]:
    for _ in range(WARM_UP):
        login()
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        login()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _rows(label: str, timings: list[float], note: str, target: float | None = TARGET_MS) -> list[Row]:
    return [
        Row(f"ldap: {label} p50", median(timings), "ms", None, note=note),
        Row(f"ldap: {label} p95", percentile(timings, 0.95), "ms", target, note=f"{note}; load {loadavg()}"),
    ]


def in_process(slapd) -> list[Row]:
    from playdeck.auth.ldap import login

    rows = []
    for label, settings in (
        ("LDAPS", slapd.settings()),
        ("StartTLS", slapd.settings(ldap_urls=(slapd.ldap_url,), ldap_starttls=True)),
    ):
        assert len(login.authenticate("bob", "bob-pw", settings).groups) == 3
        timings = _timed(lambda settings=settings: login.authenticate("bob", "bob-pw", settings))
        note = f"authenticate(): service bind + search + bind as bob + 3-level group walk, {LOGINS} logins"
        rows += _rows(f"login over {label}", timings, note)
    return rows


def web_login(slapd) -> list[Row]:
    with Stack("production", worker=False, env=slapd.env()) as stack:
        from playdeck import db
        from playdeck.auth.sso import rules
        from testing.ldap_server import group_dn

        with db.session_scope() as session:
            rules.create_rule(session, {"source": "ldap", "group": group_dn("sre"), "role": "release_manager"})
        url = f"http://127.0.0.1:{stack.port}/login"

        def log_in() -> None:
            browser = stack.http.__class__()
            (token,) = CSRF_INPUT.findall(browser.get(url, timeout=30).text)
            started = time.perf_counter()
            answer = browser.post(url, data={"name": "bob", "password": "bob-pw", "csrf_token": token},
                                  allow_redirects=False, timeout=30)  # fmt: skip
            timings.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 302, (answer.status_code, answer.text[:300])

        timings: list[float] = []
        for _ in range(WARM_UP + LOGINS):
            log_in()
        note = f"POST /login -> 302 (throttle, directory, mapping, session, audit on MariaDB), {LOGINS} logins"
        # For information: the number is the directory's part (search + bind + groups), above.
        return _rows("web login (form post)", timings[WARM_UP:], note, target=None)


def run() -> list[Row]:
    from testing.ldap_server import ThrowawaySlapd

    base = Path(tempfile.mkdtemp(prefix="playdeck-bench-ldap-"))
    slapd = ThrowawaySlapd(base, free_port(), free_port())
    try:
        slapd.start().load_sample()
        return in_process(slapd) + web_login(slapd)
    finally:
        slapd.stop()
        shutil.rmtree(base, ignore_errors=True)
