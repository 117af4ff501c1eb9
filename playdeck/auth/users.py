"""Users: create them, set their password and role, grant projects and zones; in the caller's transaction."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from playdeck import audit
from playdeck.auth.models import LoginSession, ProjectMember, User, ZoneEditor
from playdeck.auth.permissions import Principal, Role
from playdeck.errors import Conflict, NotFound, ValidationError
from playdeck.models import Project, utcnow

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
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
    if not isinstance(name, str) or not NAME_RE.match(name):
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


def set_password(session: Session, user: User, password: str) -> None:
    """A new password ends every login session of the user (tokens stay: they are revoked one by one)."""
    user.password_hash = generate_password_hash(check_password(password), method=PASSWORD_METHOD)
    user.password_changed_at = utcnow()
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    audit.record(session, "user.password", "user", user.name)


def set_role(session: Session, user: User, role: object) -> None:
    before, user.role = user.role, parse_role(role).value
    audit.record(session, "user.role", "user", user.name, {"before": before, "after": user.role})


def set_active(session: Session, user: User, active: bool) -> None:
    """A deactivated user's sessions end now and their tokens stop working."""
    user.active = active
    audit.record(session, "user.activate" if active else "user.deactivate", "user", user.name)
    if not active:
        session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))


def grant_project(session: Session, user: User, project_name: str) -> None:
    project = session.scalar(select(Project).where(Project.name == project_name))
    if project is None:
        raise NotFound(f"project {project_name!r} does not exist")
    if project.id not in {member.project_id for member in user.projects}:
        user.projects.append(ProjectMember(project_id=project.id))
        audit.record(session, "user.grant_project", "user", user.name, {"project": project_name})


def grant_zone(session: Session, user: User, zone: str) -> None:
    from playdeck.dns.changes import zone_key

    key = zone_key(zone)
    if key not in {grant.zone for grant in user.zones}:
        user.zones.append(ZoneEditor(zone=key))
        audit.record(session, "user.grant_zone", "user", user.name, {"zone": key})


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
