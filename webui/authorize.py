"""Object-level checks of the views: the route's rule (``webui.access``) has let the caller's role in; these
decide for the project, environment, run or zone at hand (``playdeck.auth.permissions``).

Each reads what it needs in one short session and holds nothing across the request. The ``may_*``
twins answer the same questions for templates, so a page hides the buttons its viewer may not use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import g

from playdeck.auth import permissions
from playdeck.auth.permissions import Action, Principal
from playdeck.db import session_scope
from playdeck.dns.changes import zone_key
from playdeck.errors import Forbidden, NotFound, ValidationError
from playdeck.models import Environment, Project
from playdeck.projects import get_environment, get_project
from playdeck.runs.queries import get_run
from webui import access

ACTOR_FROM_LOGIN = "is set from your login; leave it out"


def refuse_actor_fields(given: Mapping[str, Any], *fields: str) -> None:
    """Who asked is the login: a request that names someone else is refused, not silently rewritten."""
    for field in fields:
        if field in given:
            raise ValidationError(field, ACTOR_FROM_LOGIN)


def actor() -> str:
    """The name runs and the DNS history record for the caller."""
    return access.principal().name


def require_deploy(project: object, environment: object) -> None:
    """The caller may deploy ``project`` to ``environment`` (as the request names them): membership and
    the environment's protected flag decide for a developer."""
    principal = access.principal()
    permissions.require(principal, Action.DEPLOY)
    # Malformed or blank: the run service refuses it with its own 400 before anything is written.
    if not (isinstance(project, str) and project and isinstance(environment, str) and environment):
        return
    with session_scope() as session:
        found = get_project(session, project)
        target = get_environment(found, environment)
        project_id, protected = found.id, target.protected
    permissions.require_deploy(principal, project_id, project, environment, protected)


def deploy_check() -> Callable[[Project, Environment], None]:
    """``require_deploy`` for a service that finds the project and environment itself (a promotion's target,
    once the run it promotes is known to be promotable)."""
    principal = access.principal()

    def check(project: Project, environment: Environment) -> None:
        permissions.require_deploy(principal, project.id, project.name, environment.name, environment.protected)

    return check


def require_cancel(run_id: int, force: bool) -> None:
    """A developer cancels their own runs; forcing, and others' runs, need a release manager. Checked
    apart from the cancel itself: who requested a run never changes."""
    principal = access.principal()
    if force:
        permissions.require(principal, Action.FORCE_CANCEL)
    with session_scope() as session:
        requested_by = get_run(session, run_id).requested_by
    permissions.require_cancel(principal, requested_by)


def require_zone_editor(zone: str) -> None:
    """The caller was granted ``zone`` (any spelling of its name), or is an admin."""
    # Checked before the zone is read: a caller who may not edit it learns nothing more about it.
    try:
        key = zone_key(zone)
    except NotFound:
        key = zone  # no grant names it; an admin goes on to the service's 404
    permissions.require_zone_editor(access.principal(), key)


# --- for templates -------------------------------------------------------------------------------


def _passes(check: Callable[..., None], *args: Any) -> bool:
    try:
        check(*args)
    except Forbidden:
        return False
    return True


def _caller() -> Principal | None:
    # None on a page drawn without a login (the login page, an error before authentication).
    return g.get("principal")


def may(action: str) -> bool:
    caller = _caller()
    return caller is not None and permissions.allows(caller, Action(action))


def may_deploy(project_id: int, environment: Mapping[str, Any]) -> bool:
    caller = _caller()
    return caller is not None and _passes(
        permissions.require_deploy, caller, project_id, "", environment["name"], environment["protected"]
    )


def may_cancel(run: Mapping[str, Any]) -> bool:
    caller = _caller()
    return caller is not None and _passes(permissions.require_cancel, caller, run["requested_by"])


def may_edit_zone(zone: str) -> bool:
    caller = _caller()
    return caller is not None and may(Action.EDIT_RECORDS) and _passes(permissions.require_zone_editor, caller, zone)


TEMPLATE_GLOBALS: dict[str, Callable[..., bool]] = {
    "may": may,
    "may_deploy": may_deploy,
    "may_cancel": may_cancel,
    "may_edit_zone": may_edit_zone,
}
