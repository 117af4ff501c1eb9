"""A real OpenID provider (``testing.oidc_provider``: Authlib's authorization server, its own login page) for the
single sign-on tests, and the walk a browser makes through a login: Playdeck -> the provider's login page ->
Playdeck's callback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests

from playdeck.auth.sso import provider as provider_cache
from testing.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider
from tests.conftest import reset_process_state

BASE_URL = "http://127.0.0.1:8000"
PASSWORD = "provider password 1"


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[OidcProvider]:
    """The provider with accounts dana (deployers), sam (sre) and nora (no groups claim); Playdeck configured for it."""
    started = OidcProvider(BASE_URL + "/login/oidc/callback").start()
    started.add_account("dana", PASSWORD, ["deployers"])
    started.add_account("sam", PASSWORD, ["sre", "deployers"])
    started.add_account("nora", PASSWORD, None)
    configure_oidc(monkeypatch, started)
    yield started
    started.stop()
    provider_cache.forget_providers()


def configure_oidc(monkeypatch: pytest.MonkeyPatch, started: OidcProvider, **values: str) -> None:
    settings = {"OIDC_ISSUER": started.issuer, "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET,
                "OIDC_SCOPES": "openid profile email groups", "OIDC_DISPLAY_NAME": "Test IdP",
                "BASE_URL": BASE_URL, "OIDC_TIMEOUT_SECONDS": "2", **values}  # fmt: skip
    for name, value in settings.items():
        monkeypatch.setenv(f"PLAYDECK_{name}", value)
    reset_process_state()
    provider_cache.forget_providers()


@dataclass
class Answer:
    status: int
    text: str
    location: str
    session_cookie: str | None


def at_provider(url: str, user: str, password: str = PASSWORD) -> str:
    """What a person does on the provider's login page: the URL it sends the browser back to."""
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Test Identity Provider" in page.text, page.text
    signed_in = requests.post(url, data={"username": user, "password": password}, allow_redirects=False, timeout=10)
    assert signed_in.status_code == 302, signed_in.text
    return signed_in.headers["Location"]


def begin(client, next_url: str = "/") -> str:
    started = client.get("/login/oidc", query_string={"next": next_url})
    assert started.status_code == 303, started.text
    return started.headers["Location"]


def come_back(client, back_url: str) -> Answer:
    parts = urlsplit(back_url)
    answer = client.get(f"{parts.path}?{parts.query}")
    cookie = client.get_cookie("playdeck_session")
    return Answer(answer.status_code, answer.text, answer.headers.get("Location", ""), cookie.value if cookie else None)


def log_in(client, user: str) -> Answer:
    return come_back(client, at_provider(begin(client), user))
