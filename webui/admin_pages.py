"""The admin pages, ``/admin`` (role admin): users (role, active, password, project and zone grants, API
tokens) and projects (environments' protected flag, launch form, secrets).

Thin views over ``playdeck.auth.users``, ``playdeck.auth.credentials``, ``playdeck.projects`` and
``playdeck.secrets``, which audit every change. Every form carries the session's CSRF token
(``webui.access``) and is refused from other sites (``webui.origin``). A refused form comes back with the
reason and what was typed — except passwords and secret values, which are never drawn into a page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from flask import Blueprint, Response, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from playdeck import environments, launch_inputs, projects, secrets
from playdeck.auth import credentials, users
from playdeck.auth.models import User
from playdeck.auth.permissions import Action, Role
from playdeck.db import session_scope
from playdeck.dns import editors
from playdeck.errors import PlaydeckError, ValidationError
from playdeck.launch_form import LaunchForm, parse_document
from playdeck.serializers import project_json
from webui import access, authorize, confirmation
from webui.origin import require_same_origin

bp = Blueprint("admin_pages", __name__, url_prefix="/admin")

PageResult = str | tuple[str, int] | Response
CROSS_SITE = "users, grants and secrets can only be changed from Playdeck's own pages or through the API"
GRANT_KINDS = ("project", "zone")


def _require_same_origin() -> None:
    require_same_origin(CROSS_SITE)


def flag(form: MultiDict[str, str], field: str) -> bool:
    """A yes/no form field, sent by the form's button as "1" or "0"."""
    value = form.get(field)
    if value not in ("0", "1"):
        raise ValidationError(field, "must be 1 (yes) or 0 (no)")
    return value == "1"


def _redirect(endpoint: str, **values: str) -> Response:
    return redirect(url_for(endpoint, **values), 303)


# --- users -----------------------------------------------------------------------------------------


def _users_page(status: int = 200, **context: Any) -> tuple[str, int]:
    with session_scope() as session:
        listed = users.describe_all(session)
    context.setdefault("form", {})
    return render_template("admin_users.html", users=listed, roles=list(Role), **context), status


@bp.get("")
@access.rule(Action.ADMIN)
def index() -> Response:
    return _redirect(".users_page")


@bp.get("/users")
@access.rule(Action.ADMIN)
def users_page() -> tuple[str, int]:
    return _users_page()


@bp.post("/users")
@access.rule(Action.ADMIN)
def create_user() -> PageResult:
    _require_same_origin()
    form = request.form
    typed = {"name": form.get("name", "").strip(), "role": form.get("role", "")}
    try:
        with session_scope() as session:
            users.create_user(session, typed["name"], typed["role"], form.get("password") or None)
    except PlaydeckError as exc:
        return _users_page(exc.status_code, form=typed, error=exc.message, error_field=getattr(exc, "field", None))
    return _redirect(".user_page", user=typed["name"])


def _user_page(name: str, status: int = 200, **context: Any) -> tuple[str, int]:
    with session_scope() as session:
        described = users.describe_one(session, users.get_user(session, name))
        tokens = [credentials.describe_token(token) for token in credentials.list_tokens(session, name)]
        project_names = [project.name for project in projects.list_projects(session)]
    page = render_template(
        "admin_user.html",
        user=described,
        tokens=tokens,
        roles=list(Role),
        project_names=project_names,
        revoke_url=lambda token_id: url_for(".revoke_token", user=name, token_id=token_id),
        is_self=name == authorize.actor(),
        **context,
    )
    return page, status


@bp.get("/users/<user>")
@access.rule(Action.ADMIN)
def user_page(user: str) -> tuple[str, int]:
    return _user_page(user)


def _change_user(name: str, change: Callable[[Session, User], None]) -> PageResult:
    """Apply ``change`` to the user and show their page again: the outcome, or why it was refused."""
    _require_same_origin()
    try:
        with session_scope() as session:
            change(session, users.get_user(session, name))
    except PlaydeckError as exc:
        return _user_page(name, exc.status_code, error=exc.message, error_field=getattr(exc, "field", None))
    return _redirect(".user_page", user=name)


@bp.post("/users/<user>/role")
@access.rule(Action.ADMIN)
def set_role(user: str) -> PageResult:
    return _change_user(user, lambda session, found: users.set_role(session, found, request.form.get("role")))


@bp.post("/users/<user>/active")
@access.rule(Action.ADMIN)
def set_active(user: str) -> PageResult:
    return _change_user(user, lambda session, found: users.set_active(session, found, flag(request.form, "active")))


@bp.post("/users/<user>/password")
@access.rule(Action.ADMIN)
def set_password(user: str) -> PageResult:
    """The user's login sessions end (``users.set_password``); they log in with the new password. With
    "revoke_tokens" ticked (the account may have been taken over), all their API tokens are revoked too."""
    # A checkbox: sent ("1") only when ticked.
    revoke = request.form.get("revoke_tokens") == "1"
    return _change_user(
        user,
        lambda session, found: users.update_user(
            session, found, password=request.form.get("password") or "", revoke_all_tokens=revoke
        ),
    )


def _grant_change(grant: bool) -> Callable[[Session, User], None]:
    kind, value = request.form.get("kind"), request.form.get("value", "").strip()
    if kind not in GRANT_KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(GRANT_KINDS)}")
    if not value:
        raise ValidationError("value", f"name the {kind}")
    changes = {
        ("project", True): users.grant_project,
        ("project", False): users.revoke_project,
        ("zone", True): editors.grant_zone,
        ("zone", False): editors.revoke_zone,
    }
    change = changes[(kind, grant)]
    return lambda session, found: change(session, found, value)


@bp.post("/users/<user>/grants")
@access.rule(Action.ADMIN)
def add_grant(user: str) -> PageResult:
    return _change_user(user, lambda session, found: _grant_change(True)(session, found))


@bp.post("/users/<user>/grants/remove")
@access.rule(Action.ADMIN)
def remove_grant(user: str) -> PageResult:
    return _change_user(user, lambda session, found: _grant_change(False)(session, found))


@bp.post("/users/<user>/tokens/<int:token_id>/revoke")
@access.rule(Action.ADMIN)
def revoke_token(user: str, token_id: int) -> PageResult:
    return _change_user(user, lambda session, found: credentials.revoke_token(session, token_id, owner=found.name))


# --- projects: environments and secrets -------------------------------------------------------------


@bp.get("/projects")
@access.rule(Action.ADMIN)
def projects_page() -> str:
    with session_scope() as session:
        listed = [
            {
                "name": project.name,
                "description": project.description,
                "environments": len(project.environments),
                "source_kind": project.source_kind,
                "built_in": projects.is_built_in(project.name),
            }
            for project in projects.list_projects(session)
        ]
    return render_template("admin_projects.html", projects=listed)


def _project_page(name: str, status: int = 200, **context: Any) -> tuple[str, int]:
    with session_scope() as session:
        project = projects.get_project(session, name)
        environment_rows = [
            {**shown, "known_hosts": env.known_hosts}
            for shown, env in zip(project_json(project)["environments"], project.environments, strict=True)
        ]
        listed = secrets.list_secrets(session, name)
        launch = launch_inputs.form_for(project)
    context.setdefault("form", {})
    page = render_template(
        "admin_project.html",
        project={"name": name, "environments": environment_rows, "built_in": projects.is_built_in(name)},
        secrets=listed,
        kinds=secrets.KINDS,
        launch=launch,
        launch_text=_declaration_text(launch),
        **context,
    )
    return page, status


@bp.get("/projects/<name>")
@access.rule(Action.ADMIN)
def project_page(name: str) -> tuple[str, int]:
    return _project_page(name)


def _change_project(name: str, change: Callable[[Session], None], typed: dict[str, Any] | None = None) -> PageResult:
    _require_same_origin()
    try:
        with session_scope() as session:
            change(session)
    except PlaydeckError as exc:
        field = getattr(exc, "field", None)
        return _project_page(name, exc.status_code, error=exc.message, error_field=field, form=typed or {})
    return _redirect(".project_page", name=name)


@bp.post("/projects/<name>/environments/<environment>/protected")
@access.rule(Action.ADMIN)
def set_protected(name: str, environment: str) -> PageResult:
    protect = flag(request.form, "protected")
    if not protect and not confirmation.confirmed():
        _require_same_origin()
        question = f"Unprotect {name} {environment}? Its deploys will no longer ask for a confirmation."
        back = url_for("admin_pages.project_page", name=name)
        return confirmation.ask(question, [("Project", name), ("Environment", environment)], "Unprotect", back)
    return _change_project(name, lambda session: projects.set_protected(session, name, environment, protect))


@bp.post("/projects/<name>/environments/<environment>/settings")
@access.rule(Action.ADMIN)
def set_environment_settings(name: str, environment: str) -> PageResult:
    """The queue (empty: the default one), the known_hosts lines, replaced whole, and the environment what is
    deployed here must have succeeded in first (empty: no such rule)."""
    options = {
        "queue": request.form.get("queue", "").strip() or None,
        "known_hosts": request.form.get("known_hosts", ""),
    }
    # The page's form always sends it; a form without it leaves the rule as it is.
    if "requires_success_in" in request.form:
        options["requires_success_in"] = request.form["requires_success_in"] or None
    return _change_project(
        name,
        lambda session: environments.set_options(session, name, environment, **options),
        {"environment": environment, **{key: value or "" for key, value in options.items()}},
    )


def _whole_number(field: str, text: str) -> int:
    if not text.strip().isdigit():
        raise ValidationError(field, "must be a whole number")
    return int(text)


@bp.post("/projects/<name>/environments/<environment>/approvals")
@access.rule(Action.ADMIN)
def set_environment_approvals(name: str, environment: str) -> PageResult:
    """How many approvals the environment's deploys wait for, from whom, how long; whether rollbacks skip them."""
    form = request.form
    typed = {"approvals_environment": environment, "approvals": form.to_dict()}
    timeout = form.get("approval_timeout_seconds", "")

    def change(session: Session) -> None:
        environments.set_options(
            session,
            name,
            environment,
            approvals_required=_whole_number("approvals_required", form.get("approvals_required", "0")),
            approver_roles=form.getlist("approver_roles"),
            approver_users=[user.strip() for user in form.get("approver_users", "").split(",") if user.strip()],
            approval_timeout_seconds=_whole_number("approval_timeout_seconds", timeout),
            rollback_skips_approval=form.get("rollback_skips_approval") is not None,
        )

    return _change_project(name, change, typed)


def _declaration_text(launch: LaunchForm) -> str:
    """The admins' declaration as YAML for the textarea; empty when the file (or nothing) declares the form."""
    if launch.source != "project":
        return ""
    return yaml.safe_dump({"fields": [field.to_dict() for field in launch.fields]}, sort_keys=False)


@bp.post("/projects/<name>/launch-form")
@access.rule(Action.ADMIN)
def set_launch_form(name: str) -> PageResult:
    """The declaration from the textarea (YAML or JSON, ``fields:``); empty: the file beside the playbook."""
    text = request.form.get("launch_form", "")
    allow_free = request.form.get("allow_free_extra_vars") is not None
    typed = {"launch_form": text, "allow_free_extra_vars": allow_free}

    def change(session: Session) -> None:
        fields = None if not text.strip() else [field.to_dict() for field in parse_document(text)]
        launch_inputs.set_launch_form(session, name, fields, allow_free, who=authorize.actor())

    return _change_project(name, change, typed)


@bp.post("/projects/<name>/secrets")
@access.rule(Action.ADMIN)
def set_secret(name: str) -> PageResult:
    """Set from the form's textarea; the value is never drawn back, not even when it is refused."""
    typed = {"kind": request.form.get("kind", ""), "environment": request.form.get("environment", "")}
    value = request.form.get("value", "")
    return _change_project(
        name,
        lambda session: secrets.set_secret(
            session, name, typed["environment"] or None, typed["kind"], value, who=authorize.actor()
        ),
        typed,
    )


@bp.post("/projects/<name>/secrets/delete")
@access.rule(Action.ADMIN)
def delete_secret(name: str) -> PageResult:
    kind, environment = request.form.get("kind", ""), request.form.get("environment", "")
    return _change_project(
        name,
        lambda session: secrets.delete_secret(session, name, environment or None, kind, who=authorize.actor()),
    )
