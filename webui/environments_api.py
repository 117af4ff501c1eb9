"""An environment's routing, SSH host keys, release rule, approvals and what its hosts run now, for admins:
``/api/v1/projects/<project>/environments/<environment>`` — read, and changed with PATCH (the queue its
runs go to, ``null`` for the default one; the known_hosts lines its SSH targets must match, replaced
whole; the environment where what is deployed here must have succeeded first, ``null`` for none;
``approvals_required``, ``approver_roles``, ``approver_users``, ``approval_timeout_seconds``,
``rollback_skips_approval``). The same service as ``playdeck env set``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy.orm import Session

from playdeck import environments, projects
from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.errors import ValidationError
from playdeck.release_control import approval_settings
from playdeck.releases import host_versions
from webui import access
from webui.payloads import json_request_body

bp = Blueprint("environments_api", __name__, url_prefix="/api/v1/projects/<project>/environments/<environment>")

FIELDS = ("queue", "known_hosts", "requires_success_in", *approval_settings.FIELDS)


def environment_json(session: Session, project: str, environment: str) -> dict[str, Any]:
    """The environment's settings with its known_hosts lines (host keys are public, not secrets)."""
    env = projects.get_environment(projects.get_project(session, project), environment)
    hosts = host_versions.environment_hosts(session, [env.id])[env.id]
    return {
        **environments.view(project, env).as_json(),
        "known_hosts": env.known_hosts,
        # What each host runs now (playdeck.releases.host_versions).
        "hosts": host_versions.environment_json(hosts),
    }


@bp.get("")
@access.rule(Action.ADMIN)
def get_environment(project: str, environment: str) -> Response:
    with session_scope() as session:
        return jsonify(environment_json(session, project, environment))


@bp.patch("")
@access.rule(Action.ADMIN)
def update_environment(project: str, environment: str) -> Response:
    body = json_request_body(allowed=FIELDS)
    if not body:
        raise ValidationError("body", f"nothing to change: give any of {', '.join(FIELDS)}")
    with session_scope() as session:
        environments.set_options(session, project, environment, **body)
        return jsonify(environment_json(session, project, environment))
