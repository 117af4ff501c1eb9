"""The login form's CSRF token, bound to the browser that got the form.

There is no session before a login to tie a token to, so the form comes with a random nonce in a cookie,
signed (and timestamped) with a server key, and the form's token is an HMAC of that nonce under the same
key. A post is accepted only with a cookie this server signed, not older than the form may be, and the
token derived from *that* cookie's nonce: a value an attacker sets as the cookie (from a sibling
subdomain, or over plain HTTP) does not verify, and a token read from one browser's form does not go with
another browser's cookie.

The key is ``PLAYDECK_FLASK_SECRET_KEY`` when set, else a random key kept in the DB (``SigningKey``,
made on first use), so that every web process verifies what another signed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from playdeck.auth.models import SigningKey
from playdeck.db import session_scope
from playdeck.settings import get_settings

KEY_NAME = "login-form"
_SALT = "playdeck-login-form"
_TOKEN_CONTEXT = b"playdeck-login-form-token:"
# Per database: a test process works with many, a web process with one.
_keys: dict[tuple[str, str], bytes] = {}


def shared_key(name: str = KEY_NAME) -> bytes:
    """The DB's key ``name``, made on first use; the first of racing web processes wins."""
    cache_key = (get_settings().database_url, name)
    if cache_key not in _keys:
        query = select(SigningKey.value).where(SigningKey.name == name)
        with session_scope() as session:
            value = session.scalar(query)
        if value is None:
            try:
                with session_scope() as session:
                    session.add(SigningKey(name=name, value=secrets.token_hex(32)))
            except IntegrityError:
                pass  # another process made it meanwhile: theirs is read below
            with session_scope() as session:
                value = session.scalar(query)
        _keys[cache_key] = bytes.fromhex(value)
    return _keys[cache_key]


@dataclass(frozen=True)
class LoginForm:
    # Goes into the browser's cookie (signed nonce).
    cookie: str
    # Goes into the form's hidden field.
    token: str


def _token(key: bytes, nonce: str) -> str:
    return hmac.new(key, _TOKEN_CONTEXT + nonce.encode(), hashlib.sha256).hexdigest()


def _serializer(key: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=_SALT)


def issue(key: bytes) -> LoginForm:
    nonce = secrets.token_urlsafe(32)
    return LoginForm(cookie=_serializer(key).dumps(nonce), token=_token(key, nonce))


def verify(key: bytes, cookie: str | None, token: str | None, max_age: int) -> bool:
    """Whether ``token`` is the form token of ``cookie``, a cookie this server signed at most ``max_age``
    seconds ago."""
    if not cookie or not token:
        return False
    try:
        nonce = _serializer(key).loads(cookie, max_age=max_age)
    except BadSignature:  # also an expired one (SignatureExpired)
        return False
    return isinstance(nonce, str) and hmac.compare_digest(_token(key, nonce), token)
