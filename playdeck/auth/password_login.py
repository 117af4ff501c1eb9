"""A login with a name and a password, from the login form: a local account's password (Playdeck keeps its
hash), else — when a directory is configured — the company directory's (``playdeck.auth.ldap``), whose person is
then signed in through the group mapping (``playdeck.auth.sso.mapping``).

A local account never depends on the directory: the break-glass admin logs in while it is down. The directory
is asked with no database transaction open (a slow directory holds a web thread, not a connection and its
locks), and at most for its timeouts. The throttle counts a wrong password the same wherever it was checked;
every login, failure and refusal is audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from playdeck.auth import credentials, throttle
from playdeck.auth.credentials import Login
from playdeck.auth.ldap import login as ldap_login
from playdeck.auth.sso import mapping
from playdeck.db import session_scope
from playdeck.errors import DirectoryUnavailable, Forbidden, Unauthenticated


def log_in(name: str, password: str, address: str) -> Login:
    """Unauthenticated (wrong name or password), TooManyAttempts (the throttle), DirectoryUnavailable (the
    directory cannot be used: local accounts still can), Forbidden (the directory knows them, Playdeck gives
    them no access)."""
    with session_scope() as session:
        throttle.check(session, name, address)
        local = not ldap_login.configured() or credentials.has_password(session, name)
    if local:
        return _local(name, password, address)
    return _directory(name, password, address)


@contextmanager
def _recorded(*kept: type[Exception]) -> Iterator[Session]:
    """``session_scope`` whose work is committed even when it ends in one of ``kept``: the failure or refusal it
    recorded stays on record (and counts for the throttle)."""
    with session_scope() as session:
        try:
            yield session
        except kept:
            session.commit()
            raise


def _local(name: str, password: str, address: str) -> Login:
    # Forbidden: password logins are off for all but the break-glass users (credentials.check_local_login_allowed).
    with _recorded(Unauthenticated, Forbidden) as session:
        return credentials.log_in(session, name, password, address)


def _directory(name: str, password: str, address: str) -> Login:
    details = {"source": ldap_login.SOURCE}
    try:
        identity = ldap_login.authenticate(name, password)
    except Unauthenticated:
        credentials.spend_a_password_check(password)
        with _recorded(Unauthenticated) as session:
            credentials.refuse(session, name, address, details)
    except (DirectoryUnavailable, Forbidden) as exc:
        # Not the person's mistake: not counted by the throttle, but on record (with the administrators' reason).
        reason = getattr(exc, "detail", "") or exc.message
        with session_scope() as session:
            credentials.audit_login(session, "login.refused", name, address, details | {"reason": reason[:500]})
        raise
    with _recorded(mapping.SignInRefused) as session:
        # A refusal is audited by the mapping in this transaction.
        user = mapping.sign_in_external(session, identity)
        return credentials.logged_in(session, user, name, address, details)
