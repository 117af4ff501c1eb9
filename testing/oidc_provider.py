"""A real OpenID Connect provider for tests and benchmarks, built on Authlib's authorization server (the
authorization code grant with its OpenID Connect and PKCE extensions), with its own login page, discovery
document and key set, served by Werkzeug on 127.0.0.1 in a thread of the caller.

``behaviour`` makes it misbehave the way a hostile or broken provider would (a forged signature, an expired
token, another audience or issuer, ``alg: none``, a replayed ID token, a huge or missing groups claim, a slow
token endpoint), so the tests can show each is refused.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from html import escape
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import WSGIRequestHandler, make_server

CLIENT_ID = "playdeck"
CLIENT_SECRET = "provider-test-secret"


@dataclass
class Account:
    password: str
    subject: str
    groups: list[str] | None  # None: no groups claim at all
    email: str = ""
    name: str = ""


@dataclass
class Behaviour:
    """How the next ID tokens are made. Attacks: "forged_signature", "expired", "wrong_audience", "wrong_issuer",
    "alg_none", "replay" (the previous ID token again), "future_iat"; "" is an honest provider."""

    attack: str = ""
    groups: list[str] | None = None  # replaces the account's groups when set
    token_delay_seconds: float = 0.0
    # Like Keycloak or Authentik set up so: the groups only at the userinfo endpoint, not in the ID token.
    groups_only_in_userinfo: bool = False
    # The userinfo endpoint answers for another account (a provider mixing up its users), when set.
    userinfo_subject: str = ""
    # The userinfo endpoint refuses every access token (a provider that forgot to allow the scope).
    userinfo_refused: bool = False


@dataclass
class _Client(ClientMixin):
    redirect_uri: str

    def get_client_id(self) -> str:
        return CLIENT_ID

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(item for item in (scope or "").split() if item in ("openid", "profile", "email", "groups"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, CLIENT_SECRET)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class _Code(AuthorizationCodeMixin):
    code: str
    user: str
    redirect_uri: str
    scope: str
    nonce: str
    code_challenge: str
    code_challenge_method: str
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass  # a line per request drowns a test's or a benchmark's output


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class OidcProvider:
    """``start()`` serves on a free port; ``issuer`` is its URL; ``stop()`` ends it (the provider is down)."""

    def __init__(self, redirect_uri: str) -> None:
        self.accounts: dict[str, Account] = {}
        self.behaviour = Behaviour()
        self.key = RSAKey.generate_key(2048, parameters={"kid": "key-1", "use": "sig", "alg": "RS256"})
        self.codes: dict[str, _Code] = {}
        self.issued: list[str] = []
        # Access token -> the account it was issued to (the userinfo endpoint's bearer tokens).
        self.access_tokens: dict[str, str] = {}
        self.client = _Client(redirect_uri)
        self.app = self._app()
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread: threading.Thread | None = None

    def add_account(self, name: str, password: str, groups: list[str] | None, **values: str) -> None:
        self.accounts[name] = Account(password, values.pop("subject", f"sub-{name}"), groups, **values)

    def rotate_key(self, kid: str) -> None:
        """A new signing key (and only it in the key set): what a provider's key rotation looks like."""
        self.key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})

    def start(self) -> OidcProvider:
        self._thread = threading.Thread(target=self._server.serve_forever, name="oidc-provider", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- ID tokens ---------------------------------------------------------------------------------

    def sign(self, claims: dict[str, Any]) -> str:
        """The ID token of ``claims``, tampered with as ``behaviour.attack`` says."""
        attack = self.behaviour.attack
        claims = dict(claims)
        now = int(time.time())
        tampered = {
            "expired": {"iat": now - 7200, "exp": now - 3600},
            "wrong_audience": {"aud": "someone-else"},
            "wrong_issuer": {"iss": "https://evil.example"},
            "future_iat": {"iat": now + 3600, "exp": now + 7200},
        }
        claims.update(tampered.get(attack, {}))
        if attack == "replay" and self.issued:
            return self.issued[-1]
        if attack == "alg_none":
            return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
        key = self.key
        if attack == "forged_signature":
            key = RSAKey.generate_key(2048, parameters={"kid": self.key.kid, "use": "sig", "alg": "RS256"})
        token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
        self.issued.append(token)
        return token

    def user_info(self, user: str, scope: str) -> UserInfo:
        account = self.accounts[user]
        info = UserInfo(sub=account.subject, preferred_username=user, name=account.name or user.title(),
                        email=account.email or f"{user}@example.test")  # fmt: skip
        groups = self.behaviour.groups if self.behaviour.groups is not None else account.groups
        if groups is not None:
            info["groups"] = groups
        return info

    # --- the web app -------------------------------------------------------------------------------

    def _app(self) -> Flask:
        app = Flask("oidc_provider")
        server = AuthorizationServer(app, query_client=self._query_client, save_token=self._save_token)
        server.register_grant(_grant(self), [_openid(self)(require_nonce=True), CodeChallenge(required=True)])
        app.add_url_rule("/.well-known/openid-configuration", "discovery", self._discovery)
        app.add_url_rule("/jwks", "jwks", lambda: jsonify(keys=[self.key.as_dict(private=False)]))
        app.add_url_rule("/authorize", "authorize", lambda: self._authorize(server), methods=["GET", "POST"])
        app.add_url_rule("/token", "token", lambda: self._token(server), methods=["POST"])
        app.add_url_rule("/userinfo", "userinfo", self._userinfo)
        return app

    def _save_token(self, token: dict[str, Any], req: Any) -> None:
        self.access_tokens[token["access_token"]] = req.user

    def _userinfo(self):  # noqa: ANN202
        """The claims of the bearer token's account (OpenID Connect Core 5.3), with its groups."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        user = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if user is None or self.behaviour.userinfo_refused:
            return jsonify(error="invalid_token"), 401
        info = dict(self.user_info(user, "openid profile email groups"))
        if self.behaviour.userinfo_subject:
            info["sub"] = self.behaviour.userinfo_subject
        return jsonify(info)

    def _query_client(self, client_id: str) -> _Client | None:
        return self.client if client_id == CLIENT_ID else None

    def _discovery(self):  # noqa: ANN202
        return jsonify(
            issuer=self.issuer, authorization_endpoint=f"{self.issuer}/authorize",
            token_endpoint=f"{self.issuer}/token",
            jwks_uri=f"{self.issuer}/jwks", userinfo_endpoint=f"{self.issuer}/userinfo",
            response_types_supported=["code"], subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"], code_challenge_methods_supported=["S256"],
            scopes_supported=["openid", "profile", "email", "groups"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
        )  # fmt: skip

    def _authorize(self, server: AuthorizationServer):  # noqa: ANN202
        """The provider's own login page: a user name and password, then back to the client with a code."""
        error = ""
        if request.method == "POST":
            name, password = request.form.get("username", ""), request.form.get("password", "")
            account = self.accounts.get(name)
            if account is not None and secrets.compare_digest(account.password, password):
                grant = server.get_consent_grant(end_user=name)
                return server.create_authorization_response(grant=grant, grant_user=name)
            error = "Invalid user name or password."
        query = escape(request.query_string.decode())
        return (
            "<!doctype html><html><head><title>Test Identity Provider</title></head><body>"
            "<h1>Test Identity Provider: sign in</h1>"
            f"<p role='alert'>{escape(error)}</p>"
            f"<form method='post' action='/authorize?{query}'>"
            "<label>Username <input name='username' autocomplete='username'></label>"
            "<label>Password <input name='password' type='password'></label>"
            "<button type='submit'>Sign in</button></form></body></html>"
        ), (401 if error else 200)

    def _token(self, server: AuthorizationServer):  # noqa: ANN202
        if self.behaviour.token_delay_seconds:
            time.sleep(self.behaviour.token_delay_seconds)
        return server.create_token_response()


def _grant(provider: OidcProvider) -> type[AuthorizationCodeGrant]:
    class Grant(AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

        def save_authorization_code(self, code: str, req: Any) -> None:
            provider.codes[code] = _Code(
                code=code, user=req.user, redirect_uri=req.payload.redirect_uri, scope=req.scope,
                nonce=req.payload.data.get("nonce", ""), code_challenge=req.payload.data.get("code_challenge", ""),
                code_challenge_method=req.payload.data.get("code_challenge_method", ""),
            )  # fmt: skip

        def query_authorization_code(self, code: str, client: Any) -> _Code | None:
            return provider.codes.get(code)

        def delete_authorization_code(self, authorization_code: _Code) -> None:
            provider.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: _Code) -> str:
            return authorization_code.user

    return Grant


def _openid(provider: OidcProvider) -> type[OpenIDCode]:
    class OpenID(OpenIDCode):
        def exists_nonce(self, nonce: str, req: Any) -> bool:
            return any(code.nonce == nonce for code in provider.codes.values())

        def get_jwt_config(self, grant: Any = None, client: Any = None) -> dict[str, Any]:
            return {"key": provider.key, "alg": "RS256", "iss": provider.issuer, "exp": 300}

        def get_client_claims(self, client: Any) -> dict[str, Any]:
            return {"iss": provider.issuer, "aud": [CLIENT_ID], "exp": int(time.time()) + 300}

        def resolve_client_private_key(self, client: Any) -> Any:
            return provider.key

        def generate_user_info(self, user: str, scope: str) -> UserInfo:
            return provider.user_info(user, scope)

        def encode_id_token(self, token: dict[str, Any], req: Any) -> str:
            claims = self.get_compatible_claims(req)
            if req.authorization_code:
                claims.update(self.get_authorization_code_claims(req.authorization_code))
            claims.update(self.generate_user_info(req.user, token["scope"]))
            if provider.behaviour.groups_only_in_userinfo:
                claims.pop("groups", None)
            return provider.sign(claims)

    return OpenID
