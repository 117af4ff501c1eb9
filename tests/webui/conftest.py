"""Web test fixtures: a Flask test client over the real embedded or production services, signed in as
the admin (tests of who may do what sign in as others: ``tests.conftest.authorize``)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from playdeck.settings import Settings
from tests.conftest import authorize, web_client
from tests.webui.webui_testing import RunDriver
from webui import create_app


@pytest.fixture
def app(embedded: Settings) -> Flask:
    return create_app({"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    client = app.test_client()
    authorize(client)
    return client


@pytest.fixture(params=["embedded", "production"])
def services(request: pytest.FixtureRequest) -> Settings:
    """The test runs twice: on SQLite + filesystem broker, and on MariaDB + Redis."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def any_client(services: Settings) -> FlaskClient:
    return web_client()


@pytest.fixture
def runs() -> RunDriver:
    return RunDriver()
