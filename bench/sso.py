"""Single sign-on (issue 26) on MariaDB: the OpenID Connect callback — the code exchanged at the provider, the ID
token's signature and claims checked, the group mapping applied, the session opened — p95 over ``LOGINS`` logins
with the provider's keys cached (target 150 ms).

The provider is ``testing.oidc_provider`` (Authlib's authorization server) in a thread of this process; the web is
the Flask app in this process too, so the time is the callback's own work plus the provider's token endpoint.
Each login walks the provider's login page first (not timed); ten users, each in a mapped group with grants.
"""

from __future__ import annotations

import os
import time
from urllib.parse import urlsplit

import requests

from bench.harness import Database, Row, loadavg, percentile

LOGINS = 200
WARMUP = 10
USERS = 10
PASSWORD = "bench provider password"
BASE_URL = "http://127.0.0.1:8000"


def _configure(issuer: str) -> None:
    from playdeck.settings import get_settings
    from testing.oidc_provider import CLIENT_ID, CLIENT_SECRET

    os.environ.update({"PLAYDECK_OIDC_ISSUER": issuer, "PLAYDECK_OIDC_CLIENT_ID": CLIENT_ID,
                       "PLAYDECK_OIDC_CLIENT_SECRET": CLIENT_SECRET, "PLAYDECK_BASE_URL": BASE_URL,
                       "PLAYDECK_OIDC_SCOPES": "openid profile email groups"})  # fmt: skip
    get_settings.cache_clear()


def _rules() -> None:
    from playdeck import db
    from playdeck.auth.sso import rules
    from playdeck.projects import ensure_sample_project

    with db.session_scope() as session:
        ensure_sample_project(session)
        rules.create_rule(session, {"group": "deployers", "role": "developer", "projects": ["sampleapp"],
                                    "zones": ["example.test"]})  # fmt: skip
        rules.create_rule(session, {"group": "sre", "role": "release_manager"})


def _one_login(app, user: str) -> float:
    """ms of the callback alone."""
    client = app.test_client()
    started = client.get("/login/oidc", query_string={"next": "/"})
    url = started.headers["Location"]
    back = requests.post(url, data={"username": user, "password": PASSWORD}, allow_redirects=False, timeout=10)
    parts = urlsplit(back.headers["Location"])
    began = time.perf_counter()
    answer = client.get(f"{parts.path}?{parts.query}")
    elapsed = (time.perf_counter() - began) * 1000
    if answer.status_code != 303:
        raise RuntimeError(f"the callback answered {answer.status_code}: {answer.text[:300]}")
    return elapsed


def run() -> list[Row]:
    from testing.oidc_provider import OidcProvider
    from webui import create_app

    provider = OidcProvider(BASE_URL + "/login/oidc/callback").start()
    try:
        for number in range(USERS):
            provider.add_account(f"user{number}", PASSWORD, ["deployers", "sre"] if number % 2 else ["deployers"])
        with Database("bench_sso"):
            _configure(provider.issuer)
            _rules()
            app = create_app({"TESTING": True})
            timings = [_one_login(app, f"user{number % USERS}") for number in range(WARMUP + LOGINS)][WARMUP:]
    finally:
        provider.stop()
    p95 = percentile(timings, 0.95)
    note = f"{LOGINS} logins of {USERS} users, keys cached; median {percentile(timings, 0.5):.1f} ms; load {loadavg()}"
    return [Row("sso: OIDC callback p95 (exchange, signature, mapping, session)", p95, "ms", 150.0, note=note)]
