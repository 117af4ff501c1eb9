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
    project_admin_pages,
    projects_api,
    releases_api,
    schedule_pages,
    schedules_api,
    secrets_api,
    sso_api,
    sso_pages,
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
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(approval_pages.bp)
    app.register_blueprint(attention.bp)
    app.register_blueprint(dns_api.bp)
    app.register_blueprint(dns_pages.bp)
    app.register_blueprint(auth_pages.bp)
    app.register_blueprint(audit_log.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(projects_api.bp)
    app.register_blueprint(secrets_api.bp)
    app.register_blueprint(environments_api.bp)
    app.register_blueprint(releases_api.bp)
    app.register_blueprint(launch_form_api.bp)
    app.register_blueprint(schedules_api.bp)
    app.register_blueprint(schedule_pages.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(webhooks_api.bp)
    app.register_blueprint(freeze_api.bp)
    app.register_blueprint(freeze_pages.bp)
    app.register_blueprint(webhook_pages.bp)
    app.register_blueprint(notifications_api.bp)
    app.register_blueprint(notification_pages.bp)
    app.register_blueprint(api_docs.bp)
    app.register_blueprint(users_api.bp)
    app.register_blueprint(sso_api.bp)
    app.register_blueprint(sso_pages.bp)
    app.register_blueprint(admin_pages.bp)
    app.register_blueprint(project_admin_pages.bp)
    app.register_blueprint(account_pages.bp)
    errors.register(app)
    # Last: it checks that every route registered above declares who may call it.
    access.register(app)
    return app
