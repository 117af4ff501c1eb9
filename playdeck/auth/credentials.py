"""Credentials: a password login opens a session (the browser's cookie); an API token is a user's key
for the API and CLI. Both are random values shown once; the DB keeps their SHA-256 only."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import Integer, String, bindparam, delete, literal, select, union_all, update
from sqlalchemy.orm import Session, selectinload
from werkzeug.security import check_password_hash

from playdeck import audit
from playdeck.auth import throttle
from playdeck.auth.models import TOKEN_START_LENGTH, ApiToken, LoginSession, ProjectMember, User, ZoneEditor
from playdeck.auth.permissions import Principal, Role
from playdeck.auth.users import get_user, principal, set_password
from playdeck.db import Executor
from playdeck.errors import Forbidden, NotFound, Unauthenticated, ValidationError
from playdeck.models import utcnow
from playdeck.serializers import iso
from playdeck.settings import get_settings

log = logging.getLogger(__name__)

SESSION_LIFETIME = dt.timedelta(hours=12)
TOKEN_PREFIX = "pdt_"
# last_seen_at / last_used_at are written at most this often: not a write on every request.
TOUCH_EVERY = dt.timedelta(seconds=60)
LOGIN_REFUSED = "wrong user name or password"
# A token may be made to last this many days at most (or forever, without an expiry).
MAX_TOKEN_DAYS = 3650
# Checked against when the user does not exist, so a login takes as long either way.
_DUMMY_HASH = "scrypt:32768:8:1$invalidsalt0000$" + "0" * 128


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _with_grants():
    return selectinload(User.projects), selectinload(User.zones)


# Every request starts with its caller: the credential and its user in one query, the grants in at
# most one more (issue 7, the API at scale).
_PRINCIPAL_COLUMNS = (User.id.label("user_id"), User.name, User.role, User.active)
# Built once, the hash a parameter: SQLAlchemy memoizes a statement's cache key on the statement object,
# so a statement built anew on every request pays for walking its whole tree every time.
_SESSION_LOOKUP = (
    select(LoginSession.id, LoginSession.expires_at, LoginSession.last_seen_at, *_PRINCIPAL_COLUMNS)
    .join(User, LoginSession.user_id == User.id)
    .where(LoginSession.token_hash == bindparam("token_hash"))
)
_TOKEN_LOOKUP = (
    select(ApiToken.id, ApiToken.expires_at, ApiToken.revoked_at, ApiToken.last_used_at, *_PRINCIPAL_COLUMNS)
    .join(User, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)
_GRANTS_LOOKUP = union_all(
    select(ProjectMember.project_id, literal(None, String).label("zone")).where(
        ProjectMember.user_id == bindparam("user_id")
    ),
    select(literal(None, Integer), ZoneEditor.zone).where(ZoneEditor.user_id == bindparam("user_id")),
)


def _principal(session: Executor, row: Any, token_id: int | None = None) -> Principal:
    """The principal of a credential row (``_PRINCIPAL_COLUMNS``). An admin's grants are never consulted
    (``playdeck.auth.permissions``), so they are not read."""
    role = Role(row.role)
    if role == Role.ADMIN:
        return Principal(id=row.user_id, name=row.name, role=role, token_id=token_id)
    grants = session.execute(_GRANTS_LOOKUP, {"user_id": row.user_id}).all()
    return Principal(
        id=row.user_id,
        name=row.name,
        role=role,
        project_ids=frozenset(project_id for project_id, _ in grants if project_id is not None),
        zones=frozenset(zone for _, zone in grants if zone is not None),
        token_id=token_id,
    )


# --- password login and sessions ------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    principal: Principal
    session_token: str


def log_in(session: Session, name: str, password: str, address: str) -> Login:
    """Check the password (after the throttle let the attempt through) and open a session. A failure is
    recorded in the caller's transaction — commit it even though this raises."""
    check_local_login_allowed(session, name, address)
    throttle.check(session, name, address)
    user = session.scalar(select(User).options(*_with_grants()).where(User.name == name))
    valid = check_password_hash(user.password_hash if user and user.password_hash else _DUMMY_HASH, password)
    if user is None or not user.active or not valid:
        refuse(session, name, address)
    return logged_in(session, user, name, address)


def spend_a_password_check(password: str) -> None:
    """As long as checking a local account's password takes, for a login refused elsewhere (the directory): a
    refusal that came back sooner would tell which names are local accounts (the break-glass admins)."""
    check_password_hash(_DUMMY_HASH, password)


def has_password(session: Session, name: str) -> bool:
    """Whether ``name`` is a local account (logs in with a password Playdeck keeps), whatever its state."""
    return bool(session.scalar(select(User.password_hash).where(User.name == name)))


def refuse(session: Session, name: str, address: str, details: dict[str, Any] | None = None) -> NoReturn:
    """A wrong name or password: counted by the throttle and audited (in the caller's transaction), then
    Unauthenticated, whoever said it was wrong."""
    throttle.record_failure(session, name, address)
    audit_login(session, "login.failure", name, address, details)
    log.warning("failed login for %r from %s", name, address)
    raise Unauthenticated(LOGIN_REFUSED)


def logged_in(session: Session, user: User, name: str, address: str, details: dict[str, Any] | None = None) -> Login:
    """The login of ``user``, who just proved their password from ``address`` under ``name`` (as typed: what
    the throttle counted): the throttle forgets that pair's failures, a session opens, it is audited."""
    throttle.forget(session, name, address)
    token = open_session(session, user.id, address)
    audit_login(session, "login.success", name, address, details)
    log.info("%s logged in from %s", name, address)
    return Login(principal(user), token)


def open_session(session: Session, user_id: int, address: str) -> str:
    """A new login session of the user (a password login, or a single sign-on); its cookie value."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        LoginSession(
            user_id=user_id,
            token_hash=_hash(token),
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_LIFETIME,
            address=address[:64],
        )
    )
    return token


def check_local_login_allowed(session: Session, name: str, address: str) -> None:
    """With password logins turned off (single sign-on in use), only the break-glass users log in with one."""
    settings = get_settings()
    if settings.local_logins or name in settings.break_glass_users:
        return
    audit_login(session, "login.failure", name, address)
    raise Forbidden(f"password logins are turned off: log in with {settings.oidc_display_name}")


def audit_login(session: Session, action: str, name: str, address: str, details: dict[str, Any] | None = None) -> None:
    # Who tried, from where, whatever the request's bound caller (nobody yet).
    with audit.acting_as(name[:100], address):
        audit.record(session, action, "user", name, details)


def log_out(session: Session, session_token: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.token_hash == _hash(session_token)))


def change_own_password(session: Session, name: str, current: str, new: str, session_token: str | None = None) -> None:
    """A user's own change: the current password first (a browser left open is not enough to take the
    account over). Every other login session of theirs ends; ``session_token``, the one asking, stays."""
    user = get_user(session, name)
    if not (user.password_hash and check_password_hash(user.password_hash, current)):
        raise ValidationError("current_password", "is not your current password")
    if new == current:
        raise ValidationError("new_password", "is your current password; choose another")
    set_password(session, user, new, keep_session_hash=_hash(session_token) if session_token else None)


def session_principal(session: Executor, session_token: str) -> Principal | None:
    """The user of a live session, or None (unknown, expired, or the user deactivated)."""
    now = utcnow()
    row = session.execute(_SESSION_LOOKUP, {"token_hash": _hash(session_token)}).one_or_none()
    if row is None or row.expires_at <= now or not row.active:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        session.execute(update(LoginSession).where(LoginSession.id == row.id).values(last_seen_at=now))
    return _principal(session, row)


def csrf_token(session_token: str) -> str:
    """The form token of a session: derived from its secret, so a page of another site cannot know it."""
    return hmac.new(session_token.encode(), b"playdeck-csrf", hashlib.sha256).hexdigest()


def csrf_matches(session_token: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(csrf_token(session_token), given)


# --- API tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    id: int
    user: str
    name: str
    expires_at: dt.datetime | None
    # Shown once; only its hash is stored.
    token: str


def create_token(
    session: Session,
    user_name: str,
    *,
    name: str = "",
    expires_at: dt.datetime | None = None,
    parent_id: int | None = None,
) -> IssuedToken:
    """A new token of ``user_name``; with ``parent_id``, the token that asked for it through the API."""
    user = get_user(session, user_name)
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationError("expires", "must be in the future")
    if len(name) > 100:
        raise ValidationError("name", "at most 100 characters")
    if parent_id is not None:
        expires_at = _within_parent(session, parent_id, user.id, expires_at)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=_hash(token),
        token_start=token[:TOKEN_START_LENGTH],
        expires_at=expires_at,
        parent_id=parent_id,
    )
    session.add(row)
    session.flush()
    details = {"token_id": row.id, "name": name, "expires_at": expires_at, "parent_id": parent_id}
    audit.record(session, "token.create", "user", user.name, details)
    return IssuedToken(row.id, user.name, name, expires_at, token)


def _within_parent(
    session: Session, parent_id: int, user_id: int, expires_at: dt.datetime | None
) -> dt.datetime | None:
    """The expiry of a child of token ``parent_id``: never later than the parent's, so a stolen token
    cannot mint itself a successor that outlives it; no expiry asked for means the parent's. The child is
    the parent's user's, never another's (it could hold a higher role)."""
    parent = session.get(ApiToken, parent_id)
    if parent is None or parent.user_id != user_id or parent.revoked_at is not None:
        raise Forbidden("a token can only make tokens of its own user while it is valid")
    if parent.expires_at is None:
        return expires_at
    if expires_at is None:
        return parent.expires_at
    if expires_at > parent.expires_at:
        raise ValidationError(
            "expires_in_days", f"must not outlast the token making it, which expires {iso(parent.expires_at)}"
        )
    return expires_at


def expiry_after(days: object) -> dt.datetime | None:
    """The end of a token made to last ``days`` whole days (None: no expiry)."""
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationError("expires_in_days", f"must be a whole number of days from 1 to {MAX_TOKEN_DAYS}")
    return utcnow() + dt.timedelta(days=days)


def token_principal(session: Executor, token: str) -> Principal | None:
    """The user of a valid token (not expired, not revoked, user active), or None."""
    now = utcnow()
    row = session.execute(_TOKEN_LOOKUP, {"token_hash": _hash(token)}).one_or_none()
    if row is None or row.revoked_at is not None or not row.active:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return _principal(session, row, token_id=row.id)


def revoke_token(session: Session, token_id: int, *, owner: str | None = None) -> None:
    """Revoke the token ``token_id``; with ``owner``, only if it is theirs (someone else's token is as
    unknown to them as one that does not exist)."""
    row = session.get(ApiToken, token_id, options=[selectinload(ApiToken.user)])
    if row is None or (owner is not None and row.user.name != owner):
        raise NotFound(f"token {token_id} does not exist")
    descendants = _descendants(session, token_id)
    now = utcnow()
    revoked = session.execute(
        update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )
    # Children are revoked even when the parent already was (a token revoked before lineage was kept).
    children = session.execute(
        update(ApiToken).where(ApiToken.id.in_(descendants), ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )
    if revoked.rowcount or children.rowcount:
        details: dict[str, Any] = {"user": row.user.name, "name": row.name}
        if descendants:
            details["descendants"] = sorted(descendants)
        audit.record(session, "token.revoke", "token", token_id, details)


def _descendants(session: Session, token_id: int) -> set[int]:
    """Every token made by ``token_id``, by the tokens it made, and so on (one query per generation)."""
    found: set[int] = set()
    generation = {token_id}
    while generation:
        generation = set(session.scalars(select(ApiToken.id).where(ApiToken.parent_id.in_(generation)))) - found
        found |= generation
    return found


def list_tokens(session: Session, user_name: str | None = None) -> list[ApiToken]:
    query = select(ApiToken).options(selectinload(ApiToken.user)).order_by(ApiToken.id)
    if user_name is not None:
        query = query.where(ApiToken.user_id == get_user(session, user_name).id)
    return list(session.scalars(query))


def token_state(token: ApiToken, now: dt.datetime | None = None) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def describe_token(token: ApiToken) -> dict[str, Any]:
    """What may be shown of a token: never the token (nor its hash)."""
    return {
        "id": token.id,
        "user": token.user.name,
        "name": token.name,
        # None for a token created before its start was kept.
        "start": token.token_start or None,
        "state": token_state(token),
        "created_at": iso(token.created_at),
        "expires_at": iso(token.expires_at),
        "last_used_at": iso(token.last_used_at),
        "revoked_at": iso(token.revoked_at),
        # The token that made this one through the API (None: made at a login or in the shell).
        "parent_id": token.parent_id,
    }
