"""The Playdeck web UI and JSON API: a Flask app of thin views over the ``playdeck`` services."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from playdeck.settings import get_settings
from webui import (
    access,
    account_pages,
    admin_pages,
    api,
    api_docs,
    approval_pages,
    attention,
    audit_log,
    auth_pages,
    dns_api,
    dns_pages,
    environments_api,
    errors,
    freeze_api,
    freeze_pages,
    health,
    launch_form_api,
    metrics,
    notification_pages,
    notifications_api,
    openapi,
    pages,
    pipeline_pages,
    pipeline_runs_api,
    pipelines_api,
    project_admin_pages,
    projects_api,
    releases_api,
    schedule_pages,
    schedules_api,
    secrets_api,
    sso_api,
    sso_pages,
    sso_secret_api,
    users_api,
    webhook_pages,
    webhooks_api,
)

MAX_ID = 2**63 - 1


class _Id(IntegerConverter):
    """``<int:...>`` in every route: ids are 64-bit, so a larger number matches no route (404) instead
    of reaching the database (SQLite cannot bind it: a 500)."""

    def __init__(self, url_map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = None) -> None:
        super().__init__(url_map, fixed_digits, min, MAX_ID if max is None else max)


# Every blueprint, in registration order (a route's first registration wins).
BLUEPRINT_MODULES = (
    api,
    health,
    pages,
    approval_pages,
    attention,
    dns_api,
    dns_pages,
    auth_pages,
    audit_log,
    openapi,
    projects_api,
    secrets_api,
    environments_api,
    releases_api,
    launch_form_api,
    schedules_api,
    pipelines_api,
    pipeline_runs_api,
    pipeline_pages,
    schedule_pages,
    metrics,
    webhooks_api,
    freeze_api,
    freeze_pages,
    webhook_pages,
    notifications_api,
    notification_pages,
    api_docs,
    users_api,
    sso_api,
    sso_pages,
    sso_secret_api,
    admin_pages,
    project_admin_pages,
    account_pages,
)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.url_map.converters["int"] = _Id
    # Keys in the order the serializers build them: sorting every object of a 1,000-event page cost
    # more than the encoding (issue 7).
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.from_mapping(
        # Flask answers 413 before a view reads an oversized body, for the API and the forms alike.
        MAX_CONTENT_LENGTH=get_settings().max_request_bytes,
    )
    if test_config is None:
        # Flask's own options (SECRET_KEY, ...) as PLAYDECK_FLASK_*; Playdeck's settings stay in
        # playdeck.settings so the web, the workers and the CLI read them alike.
        app.config.from_prefixed_env("PLAYDECK_FLASK")
    else:
        app.config.from_mapping(test_config)

    proxies = get_settings().trusted_proxies
    if proxies > 0:
        # The client's address (login throttle, audit, sessions) is what the outermost of our proxies saw:
        # the Nth X-Forwarded-For entry from the right; entries further left are whatever the client sent.
        # Only the address: the scheme and host stay the connection's.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=0, x_host=0, x_port=0, x_prefix=0)  # type: ignore[method-assign]
    for module in BLUEPRINT_MODULES:
        app.register_blueprint(module.bp)
    errors.register(app)
    # Last: it checks that every route registered above declares who may call it.
    access.register(app)
    return app
