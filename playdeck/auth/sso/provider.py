"""The OpenID Connect provider as discovered from its issuer URL: its endpoints (``/.well-known/openid-configuration``)
and its signing keys (JWKS), both kept in memory. The keys are fetched again when a token names a key id we do not
hold (the provider rotated its keys), at most once per ``REFRESH_SPACING`` so a stream of forged key ids cannot make
us hammer the provider."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from playdeck.errors import PlaydeckError
from playdeck.settings import Settings

# Asymmetric signatures only: a symmetric one (HS256, keyed with the client secret) would let anyone who holds
# the secret mint tokens, and "none" is no signature at all.
ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
DISCOVERY_TTL = 3600.0
REFRESH_SPACING = 30.0
# A login start re-reads the discovery document when our copy is older than this: a provider that went down
# since is then told to the person on our own page instead of their browser being sent to a dead login page.
# Within this many seconds of the last answer a login start trusts it (one request per this, per web process).
RECHECK_AFTER = 10.0
# A discovery document or key set larger than this is not a provider's.
MAX_DOCUMENT_BYTES = 1024 * 1024


class ProviderUnavailable(PlaydeckError):
    """The provider did not answer (down, slow, or not a provider): nobody can log in with it now."""

    status_code = 503
    reason = "provider_unavailable"


class ProviderMisconfigured(PlaydeckError):
    status_code = 503
    reason = "provider_misconfigured"


@dataclass(frozen=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]
    code_challenge_methods: tuple[str, ...]
    # "": the provider has none (the ID token alone tells who logged in).
    userinfo_endpoint: str = ""


def check_url(name: str, url: str) -> str:
    """HTTPS, or plain HTTP to this machine only (a provider in a test, or behind a local proxy)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ProviderMisconfigured(f"{name} {url!r} must be an https:// URL")
    return url


def tls_verify(settings: Settings) -> bool | str:
    return str(settings.oidc_ca_file) if settings.oidc_ca_file else True


@contextmanager
def reaching(settings: Settings, url: str) -> Iterator[None]:
    """A request to the provider that fails to connect or times out is ``ProviderUnavailable``."""
    try:
        yield
    except requests.Timeout:
        raise ProviderUnavailable(
            f"the identity provider did not answer within {settings.oidc_timeout_seconds:g} s ({url})"
        ) from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise ProviderUnavailable(f"the identity provider answered HTTP {status} ({url})") from None
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"the identity provider cannot be reached ({url}): {type(exc).__name__}") from None


def get_json(settings: Settings, url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON object at ``url`` (at most MAX_DOCUMENT_BYTES, within the timeout)."""
    with reaching(settings, url):
        with requests.get(url, headers=headers, timeout=settings.oidc_timeout_seconds, verify=tls_verify(settings),
                          stream=True) as got:  # fmt: skip
            got.raise_for_status()
            body = got.raw.read(MAX_DOCUMENT_BYTES + 1, decode_content=True)
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ProviderMisconfigured(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
    try:
        document = requests.models.complexjson.loads(body)
    except ValueError:
        raise ProviderMisconfigured(f"{url} did not answer JSON") from None
    if not isinstance(document, dict):
        raise ProviderMisconfigured(f"{url} did not answer a JSON object")
    return document


def _metadata(settings: Settings, document: dict[str, Any]) -> Metadata:
    if document.get("issuer") != settings.oidc_issuer:
        raise ProviderMisconfigured(
            f"the provider calls itself {document.get('issuer')!r}, not the configured issuer {settings.oidc_issuer!r}"
        )
    endpoints = {}
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(key), str):
            raise ProviderMisconfigured(f"the provider's discovery document has no {key}")
        endpoints[key] = check_url(key, document[key])
    offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = tuple(alg for alg in ALLOWED_ALGORITHMS if alg in offered)
    if not algorithms:
        raise ProviderMisconfigured(f"the provider signs ID tokens with none of {', '.join(ALLOWED_ALGORITHMS)}")
    methods = tuple(str(m) for m in document.get("code_challenge_methods_supported") or ())
    if isinstance(document.get("userinfo_endpoint"), str):
        endpoints["userinfo_endpoint"] = check_url("userinfo_endpoint", document["userinfo_endpoint"])
    return Metadata(settings.oidc_issuer, algorithms=algorithms, code_challenge_methods=methods, **endpoints)


class Provider:
    """One configured provider's metadata and keys, shared by the threads of a web process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._metadata: Metadata | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._refreshed_at = -REFRESH_SPACING

    def metadata(self, max_age: float = DISCOVERY_TTL) -> Metadata:
        """The discovery document, fetched again when ours is older than ``max_age`` seconds (``RECHECK_AFTER``
        at a login start: that the provider answers it is the check that the provider is up). Fetched without
        holding the lock: logins starting while the provider hangs each wait one timeout, not one after another."""
        with self._lock:
            if self._metadata is not None and time.monotonic() - self._metadata_at <= max_age:
                return self._metadata
        check_url("PLAYDECK_OIDC_ISSUER", self.settings.oidc_issuer)
        url = self.settings.oidc_issuer + "/.well-known/openid-configuration"
        fetched = _metadata(self.settings, get_json(self.settings, url))
        with self._lock:
            self._metadata, self._metadata_at = fetched, time.monotonic()
            return fetched

    def _fetch_keys(self) -> KeySet:
        document = get_json(self.settings, self.metadata().jwks_uri)
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ProviderMisconfigured(f"the provider's key set cannot be read: {exc}") from None
        self._keys = keys
        return keys

    def keys(self, kid: str | None = None) -> KeySet:
        """The provider's keys; fetched again if ``kid`` is not among them (the provider rotated its keys), but
        not again within REFRESH_SPACING of the last such refresh (a stream of made-up key ids)."""
        with self._lock:
            keys = self._keys
            if keys is not None and (kid is None or any(key.kid == kid for key in keys.keys)):
                return keys
            if keys is not None and time.monotonic() - self._refreshed_at < REFRESH_SPACING:
                return keys
            if keys is not None:
                self._refreshed_at = time.monotonic()
            return self._fetch_keys()


_providers: dict[tuple[str, str], Provider] = {}
_providers_lock = threading.Lock()


def provider(settings: Settings) -> Provider:
    """The process's provider for these settings (tests change them; a web process has one)."""
    key = (settings.oidc_issuer, settings.oidc_client_id)
    with _providers_lock:
        if key not in _providers or _providers[key].settings != settings:
            _providers[key] = Provider(settings)
        return _providers[key]


def forget_providers() -> None:
    """Drop every cached discovery document and key set (tests; a changed configuration)."""
    with _providers_lock:
        _providers.clear()
