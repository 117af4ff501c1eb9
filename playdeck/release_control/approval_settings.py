"""An environment's approval settings, checked and changed: how many approvals its deploys need (0-3),
who may give them (roles, named users), how long a request waits, and whether rollbacks skip them. Changed
by admins (``playdeck.environments.set_options``: the admin page, the API's PATCH, ``playdeck env set``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from playdeck.auth.models import User
from playdeck.auth.permissions import Role
from playdeck.errors import ValidationError
from playdeck.models import Environment

FIELDS = (
    "approvals_required",
    "approver_roles",
    "approver_users",
    "approval_timeout_seconds",
    "rollback_skips_approval",
)
MAX_APPROVALS = 3
APPROVER_ROLES = (Role.RELEASE_MANAGER.value, Role.ADMIN.value)
# What "--approvals 2" alone means: the roles that may deploy anywhere decide.
DEFAULT_APPROVER_ROLES = list(APPROVER_ROLES)
MAX_APPROVER_USERS = 50
MIN_TIMEOUT_SECONDS = 60
MAX_TIMEOUT_SECONDS = 30 * 86400


def _whole(field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(field, f"must be a whole number from {low} to {high}")
    return value


def _roles(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(role, str) for role in value):
        raise ValidationError("approver_roles", f"must be a list of roles among {', '.join(APPROVER_ROLES)}")
    unknown = sorted(set(value) - set(APPROVER_ROLES))
    if unknown:
        raise ValidationError("approver_roles", f"{', '.join(unknown)}: only {' and '.join(APPROVER_ROLES)} approve "
                              "by role (name other people in approver_users)")  # fmt: skip
    return [role for role in APPROVER_ROLES if role in value]


def _users(session: Session, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_APPROVER_USERS or not all(isinstance(n, str) for n in value):
        raise ValidationError("approver_users", f"must be a list of at most {MAX_APPROVER_USERS} user names")
    names = sorted(set(value))
    known = set(session.scalars(select(User.name).where(User.name.in_(names)))) if names else set()
    missing = [name for name in names if name not in known]
    if missing:
        raise ValidationError("approver_users", f"no such user: {', '.join(missing)}")
    return names


def view(environment: Environment) -> dict[str, Any]:
    return {
        "approvals_required": environment.approvals_required,
        "approver_roles": environment.approver_roles,
        "approver_users": environment.approver_users,
        "approval_timeout_seconds": environment.approval_timeout_seconds,
        "rollback_skips_approval": environment.rollback_skips_approval,
    }


def apply(session: Session, environment: Environment, changes: dict[str, Any]) -> tuple[dict, dict]:
    """Check and set the approval settings ``changes`` names; (before, after) of what changed, for the audit.
    Runs already awaiting approval keep the number they asked for; who may decide is read when they do."""
    before = view(environment)
    if "approvals_required" in changes:
        environment.approvals_required = _whole("approvals_required", changes["approvals_required"], 0, MAX_APPROVALS)
    if "approver_roles" in changes:
        environment.approver_roles_json = json.dumps(_roles(changes["approver_roles"]))
    if "approver_users" in changes:
        environment.approver_users_json = json.dumps(_users(session, changes["approver_users"]))
    if "approval_timeout_seconds" in changes:
        environment.approval_timeout_seconds = _whole(
            "approval_timeout_seconds", changes["approval_timeout_seconds"], MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS
        )
    if "rollback_skips_approval" in changes:
        if not isinstance(changes["rollback_skips_approval"], bool):
            raise ValidationError("rollback_skips_approval", "must be true or false")
        environment.rollback_skips_approval = changes["rollback_skips_approval"]
    if environment.approvals_required and not environment.approver_roles and not environment.approver_users:
        if "approver_roles" in changes or "approver_users" in changes:
            raise ValidationError("approver_roles", "nobody could approve: name at least one role or user")
        environment.approver_roles_json = json.dumps(DEFAULT_APPROVER_ROLES)
    after = view(environment)
    changed = [name for name in FIELDS if before[name] != after[name]]
    return {name: before[name] for name in changed}, {name: after[name] for name in changed}
