"""Users: create them, set their password, role and whether they are active, grant and revoke projects and
zones, describe them; in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, selectinload
from werkzeug.security import generate_password_hash

from playdeck import audit
from playdeck.auth.models import ApiToken, LoginSession, ProjectMember, User
from playdeck.auth.permissions import Principal, Role
from playdeck.auth.sso.models import ExternalAccount
from playdeck.errors import Conflict, NotFound, ValidationError
from playdeck.models import AuditEvent, Project, utcnow
from playdeck.serializers import iso

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
# ProjectMember.source / ZoneEditor.source of a grant the single sign-on group mapping made.
SSO_GRANT = "sso"
# Werkzeug's scrypt (n=2**15, r=8, p=1): memory-hard, in the standard library.
PASSWORD_METHOD = "scrypt"


def parse_role(value: object) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise ValidationError("role", f"must be one of {', '.join(role.value for role in Role)}") from None


def check_password(password: object) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValidationError("password", f"must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")
    if any(ord(char) < 32 for char in password):
        raise ValidationError("password", "must not contain control characters")
    return password


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"user {name!r} does not exist")
    return user


def create_user(session: Session, name: object, role: object, password: str | None) -> User:
    """A new user; ``password`` None: none set (the user logs in with API tokens only)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValidationError("name", "must be 1-100 letters, digits and . _ @ - (starting with a letter or digit)")
    user = User(name=name, role=parse_role(role).value)
    if password is not None:
        user.password_hash = generate_password_hash(check_password(password), method=PASSWORD_METHOD)
        user.password_changed_at = utcnow()
    if session.scalar(select(func.count()).select_from(User).where(User.name == name)):
        raise Conflict(f"user {name!r} already exists")
    session.add(user)
    session.flush()
    audit.record(session, "user.create", "user", name, {"role": user.role, "password": password is not None})
    return user


def set_password(session: Session, user: User, password: str, *, keep_session_hash: str | None = None) -> None:
    """A new password ends every login session of the user (tokens stay: ``update_user(revoke_all_tokens=)``) —
    except ``keep_session_hash``, the session of a user who changed their own password."""
    user.password_hash = generate_password_hash(check_password(password), method=PASSWORD_METHOD)
    user.password_changed_at = utcnow()
    ended = delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep_session_hash is not None:
        ended = ended.where(LoginSession.token_hash != keep_session_hash)
    session.execute(ended)
    audit.record(session, "user.password", "user", user.name)


def _keep_an_admin(session: Session, user: User, change: str) -> None:
    """Nobody could manage users any more (only the shell could): the last active admin stays one."""
    if user.role != Role.ADMIN or not user.active:
        return
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN.value, User.active.is_(True), User.id != user.id)
    )
    if not others:
        raise Conflict(f"{user.name} is the last active admin: make another user admin before {change}")


def set_role(session: Session, user: User, role: object) -> None:
    after = parse_role(role).value
    if after == user.role:
        return
    if after != Role.ADMIN:
        _keep_an_admin(session, user, "changing their role")
    before, user.role = user.role, after
    audit.record(session, "user.role", "user", user.name, {"before": before, "after": user.role})


def revoke_tokens(session: Session, user: User) -> int:
    """Revoke every API token of the user for good (after a password reset, or a deactivation); how many."""
    revoked = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if revoked:
        audit.record(session, "user.revoke_tokens", "user", user.name, {"tokens": revoked})
    return revoked


def set_active(session: Session, user: User, active: bool) -> None:
    """A deactivated user's sessions end now and their tokens are revoked: reactivating them gives them
    back no credential, so a token that leaked with the account stays dead."""
    if active == user.active:
        return
    if not active:
        _keep_an_admin(session, user, "deactivating them")
    user.active = active
    audit.record(session, "user.activate" if active else "user.deactivate", "user", user.name)
    if not active:
        session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
        revoke_tokens(session, user)


def update_user(
    session: Session,
    user: User,
    *,
    role: object = None,
    active: bool | None = None,
    password: str | None = None,
    revoke_all_tokens: bool = False,
) -> None:
    """Change what is given (None: unchanged), each change audited on its own; ``revoke_all_tokens``
    (with a password reset, when the account may have been taken over) revokes every token of theirs."""
    if role is not None:
        set_role(session, user, role)
    if password is not None:
        set_password(session, user, password)
    if revoke_all_tokens:
        revoke_tokens(session, user)
    if active is not None:
        set_active(session, user, active)


def grant_project(session: Session, user: User, project_name: str) -> None:
    project = session.scalar(select(Project).where(Project.name == project_name))
    if project is None:
        raise NotFound(f"project {project_name!r} does not exist")
    if project.id not in {member.project_id for member in user.projects}:
        user.projects.append(ProjectMember(project_id=project.id))
        audit.record(session, "user.grant_project", "user", user.name, {"project": project_name})


def revoke_project(session: Session, user: User, project_name: str) -> None:
    project = session.scalar(select(Project).where(Project.name == project_name))
    member = next((m for m in user.projects if project is not None and m.project_id == project.id), None)
    if member is None:
        raise NotFound(f"{user.name} is not a member of project {project_name!r}")
    user.projects.remove(member)
    audit.record(session, "user.revoke_project", "user", user.name, {"project": project_name})


def list_users(session: Session) -> list[User]:
    query = select(User).options(selectinload(User.projects), selectinload(User.zones)).order_by(User.name)
    return list(session.scalars(query))


def last_logins(session: Session, names: list[str] | None = None) -> dict[str, dt.datetime]:
    """When each user last logged in (with their password or single sign-on), from the audit log (the one record that a
    logout or a password change does not remove)."""
    query = (
        select(AuditEvent.target, func.max(AuditEvent.at))
        .where(AuditEvent.action.in_(("login.success", "sso.login")), AuditEvent.target_type == "user")
        .group_by(AuditEvent.target)
    )
    if names is not None:
        query = query.where(AuditEvent.target.in_(names))
    return {name: at for name, at in session.execute(query)}


def _project_names(session: Session) -> dict[int, str]:
    return {project_id: name for project_id, name in session.execute(select(Project.id, Project.name))}


def _accounts(session: Session, user_ids: list[int] | None = None) -> dict[int, ExternalAccount]:
    query = select(ExternalAccount)
    if user_ids is not None:
        query = query.where(ExternalAccount.user_id.in_(user_ids))
    return {account.user_id: account for account in session.scalars(query)}


def describe(
    user: User, last_login: dt.datetime | None, project_names: dict[int, str], account: ExternalAccount | None = None
) -> dict[str, Any]:
    """What the API and the admin pages show of a user: never the password hash. A single sign-on user's grants
    made by the group mapping are listed apart (``granted_by_sso``): the others were given by hand."""
    return {
        "name": user.name,
        "role": user.role,
        "active": user.active,
        "password_set": bool(user.password_hash),
        "created_at": iso(user.created_at),
        "password_changed_at": iso(user.password_changed_at),
        "last_login_at": iso(last_login),
        "projects": sorted(project_names.get(member.project_id, "?") for member in user.projects),
        "zones": sorted(grant.zone for grant in user.zones),
        "sso": None if account is None else {
            "source": account.source, "groups": json.loads(account.groups_json)[:100],
            "last_login_at": iso(account.last_login_at),
        },
        "granted_by_sso": {
            "projects": sorted(project_names.get(m.project_id, "?") for m in user.projects if m.source == SSO_GRANT),
            "zones": sorted(grant.zone for grant in user.zones if grant.source == SSO_GRANT),
        },
    }  # fmt: skip


def describe_one(session: Session, user: User) -> dict[str, Any]:
    last_login = last_logins(session, [user.name]).get(user.name)
    return describe(user, last_login, _project_names(session), _accounts(session, [user.id]).get(user.id))


def describe_all(session: Session) -> list[dict[str, Any]]:
    logins, names, accounts = last_logins(session), _project_names(session), _accounts(session)
    return [describe(user, logins.get(user.name), names, accounts.get(user.id)) for user in list_users(session)]


def principal(user: User) -> Principal:
    return Principal(
        id=user.id,
        name=user.name,
        role=Role(user.role),
        project_ids=frozenset(member.project_id for member in user.projects),
        zones=frozenset(grant.zone for grant in user.zones),
    )


def ensure_admin(session: Session, name: str = "admin") -> str | None:
    """On a fresh install (no users at all): an admin with a random password, returned once; else None."""
    if session.scalar(select(func.count()).select_from(User)):
        return None
    password = secrets.token_urlsafe(18)
    create_user(session, name, Role.ADMIN, password)
    return password
