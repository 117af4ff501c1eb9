"""The checks of an ID token (OpenID Connect Core 3.1.3.7): an asymmetric signature by one of the provider's
keys, our issuer, our client among the audience, not expired (with a bounded clock skew), and the nonce of the
login it answers. What fails is refused with the reason, never half-accepted."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from playdeck.auth.sso.provider import Provider
from playdeck.errors import Unauthenticated

# A token longer than this is refused before it is parsed.
MAX_TOKEN_BYTES = 256 * 1024


class InvalidIdToken(Unauthenticated):
    """The provider's answer is not a valid ID token for this login; ``reason`` for the audit log."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"the identity provider's answer was refused: {message}")
        self.reason = reason


def _header(token: str) -> dict[str, Any]:
    try:
        encoded = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (ValueError, IndexError):
        raise InvalidIdToken("malformed", "the ID token is not a signed JWT") from None
    if not isinstance(header, dict):
        raise InvalidIdToken("malformed", "the ID token is not a signed JWT")
    return header


def _verified_claims(provider: Provider, token: str, algorithms: tuple[str, ...]) -> dict[str, Any]:
    header = _header(token)
    if header.get("alg") not in algorithms:
        raise InvalidIdToken("algorithm", f"the ID token is signed with {header.get('alg')!r}, not one of "
                             f"{', '.join(algorithms)}")  # fmt: skip
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    keys: KeySet = provider.keys(kid)
    try:
        return jwt.decode(token, keys, algorithms=list(algorithms)).claims
    except InvalidKeyIdError:
        raise InvalidIdToken("unknown_key", f"the ID token's key {kid!r} is not the provider's") from None
    except BadSignatureError:
        raise InvalidIdToken("signature", "the ID token's signature does not verify with the provider's keys") from None
    except (JoseError, ValueError) as exc:
        raise InvalidIdToken("malformed", f"the ID token cannot be read ({type(exc).__name__})") from None


def _check_claims(claims: dict[str, Any], issuer: str, client_id: str, nonce: str, skew: int) -> None:
    registry = jwt.JWTClaimsRegistry(
        leeway=skew,
        iss={"essential": True, "value": issuer},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise InvalidIdToken("expired", "the ID token has expired") from None
    except JoseError as exc:
        claim = getattr(exc, "claim", "")
        reason = "issuer" if claim == "iss" else "claims"
        raise InvalidIdToken(reason, f"the ID token's claim {claim or '?'} is wrong ({exc.description})") from None
    if isinstance(claims["iat"], int | float) and claims["iat"] > time.time() + skew:
        raise InvalidIdToken("claims", "the ID token was issued in the future")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    if client_id not in audiences:
        raise InvalidIdToken("audience", "the ID token was issued for another client (audience)")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise InvalidIdToken("audience", "the ID token has several audiences and is not authorized for this client")
    if not isinstance(claims.get("nonce"), str) or claims["nonce"] != nonce:
        raise InvalidIdToken("nonce", "the ID token does not answer this login (nonce)")


def verify(provider: Provider, token: object, nonce: str) -> dict[str, Any]:
    """The claims of ``token`` once every check passed; else ``InvalidIdToken``."""
    if not isinstance(token, str) or not token:
        raise InvalidIdToken("missing", "the provider sent no ID token")
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidIdToken("too_large", f"the ID token is larger than {MAX_TOKEN_BYTES // 1024} KiB")
    settings = provider.settings
    claims = _verified_claims(provider, token, provider.metadata().algorithms)
    _check_claims(claims, settings.oidc_issuer, settings.oidc_client_id, nonce, settings.oidc_clock_skew_seconds)
    return claims
