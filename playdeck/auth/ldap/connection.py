"""A bound connection to the directory: LDAPS, or StartTLS before anything else is sent, the server's certificate
checked against the system's CAs or ``ldap_ca_file`` (name included), a connect and an answer timeout on every
server tried. A password never goes out over a connection that is not encrypted, and an empty one never goes
out at all: many directories take a name with an empty password as an *anonymous* bind and say "success"
(RFC 4513 5.1.2, "unauthenticated bind")."""

from __future__ import annotations

import logging
import math
import socket
import ssl
from urllib.parse import urlsplit

from ldap3 import BASE, NONE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException

from playdeck.errors import DirectoryUnavailable, Unauthenticated
from playdeck.settings import Settings

log = logging.getLogger(__name__)

# What a person is told when the directory cannot be used; local accounts do not depend on it.
UNAVAILABLE = "the company directory (LDAP) cannot be reached just now; local accounts can still log in"
# A wrong password and a name nobody has are told apart to nobody.
REFUSED = "wrong user name or password"


class WrongPassword(Unauthenticated):
    """The directory refused the name and password (invalidCredentials)."""


def _tls(settings: Settings, host: str) -> Tls:
    ca_file = str(settings.ldap_ca_file) if settings.ldap_ca_file else None
    # validate: ldap3's default is CERT_NONE (no check at all); SNI so that a server with several names
    # presents the right certificate.
    return Tls(validate=ssl.CERT_REQUIRED, version=ssl.PROTOCOL_TLS_CLIENT, ca_certs_file=ca_file, sni=host)


def _server(settings: Settings, url: str) -> Server:
    parts = urlsplit(url)
    host = parts.hostname or ""
    use_ssl = parts.scheme.lower() == "ldaps"
    port = parts.port or (636 if use_ssl else 389)
    return Server(
        host, port=port, use_ssl=use_ssl, tls=_tls(settings, host), get_info=NONE,
        connect_timeout=settings.ldap_connect_timeout_seconds,
    )  # fmt: skip


def _open(settings: Settings, url: str, dn: str, password: str) -> Connection:
    connection = Connection(
        _server(settings, url), user=dn, password=password, authentication=SIMPLE, read_only=True,
        auto_referrals=False, raise_exceptions=False, auto_bind=False,
        # ldap3 also sets SO_RCVTIMEO from it, packed as a whole number of seconds.
        receive_timeout=max(1, math.ceil(settings.ldap_receive_timeout_seconds)),
    )  # fmt: skip
    try:
        connection.open(read_server_info=False)
        # ldap3 writes a request in pieces: with Nagle's algorithm each bind waited for the server's delayed
        # ACK, 40 ms (bench.ldap: a bind took 47 ms, 3 ms without).
        connection.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not connection.server.ssl and not connection.start_tls(read_server_info=False):
            raise DirectoryUnavailable(UNAVAILABLE, f"{url} refused StartTLS")
        if not isinstance(connection.socket, ssl.SSLSocket):  # never a password in clear, whatever went wrong
            raise DirectoryUnavailable(UNAVAILABLE, f"{url}: the connection is not encrypted")
        bound = connection.bind()
    except Exception:
        close(connection)
        raise
    if not bound:
        result = connection.result or {}
        close(connection)
        if result.get("description") == "invalidCredentials":
            raise WrongPassword(REFUSED)
        reason = f"{url} refused the bind as {dn}: {result.get('description')} {result.get('message', '')}"
        raise DirectoryUnavailable(UNAVAILABLE, reason.strip())
    return connection


def close(connection: Connection) -> None:
    """Unbind and close; a connection that already broke (its socket gone) closes without a word: the error that
    broke it is the one to report."""
    try:
        connection.unbind()
    except LDAPException:
        pass


def bind(settings: Settings, dn: str, password: str) -> Connection:
    """A connection bound as ``dn``, to the first configured server that answers over TLS. WrongPassword if the
    directory refuses the password; DirectoryUnavailable if no server could be used (the reasons logged)."""
    if not dn or not password:
        raise WrongPassword(REFUSED)
    reasons = []
    for url in settings.ldap_urls:
        try:
            return _open(settings, url, dn, password)
        except LDAPException as exc:
            reasons.append(f"{url}: {type(exc).__name__}: {exc}")
        except DirectoryUnavailable as exc:
            reasons.append(exc.detail)
    detail = "; ".join(reasons)
    log.warning("directory unavailable: %s", detail)
    raise DirectoryUnavailable(UNAVAILABLE, detail)


def service_connection(settings: Settings) -> Connection:
    """Bound as the service account that looks people and groups up. Its password refused is the
    administrator's problem, not the person's: DirectoryUnavailable, not "wrong password"."""
    try:
        return bind(settings, settings.ldap_bind_dn, settings.ldap_bind_password)
    except WrongPassword:
        detail = f"the directory refused the service account {settings.ldap_bind_dn}'s password"
        log.warning("directory unavailable: %s", detail)
        raise DirectoryUnavailable(UNAVAILABLE, detail) from None


def search(
    connection: Connection, base: str, query: str, attributes: list[str], limit: int, *, entry_only: bool = False
) -> list[dict]:
    """The entries (dn, attributes) of a subtree search, at most ``limit`` (the server stops there); with
    ``entry_only``, of the entry ``base`` alone (none if it does not exist). A base that does not exist, a server
    error or a timeout is the configuration's or the directory's problem: DirectoryUnavailable, with the reason
    for administrators."""
    try:
        connection.search(
            base, query, search_scope=BASE if entry_only else SUBTREE, attributes=attributes, size_limit=limit,
            time_limit=max(1, math.ceil(connection.receive_timeout or 1)),
        )  # fmt: skip
    except LDAPException as exc:
        detail = f"searching {base}: {type(exc).__name__}: {exc}"
        log.warning("directory unavailable: %s", detail)
        raise DirectoryUnavailable(UNAVAILABLE, detail) from None
    result = connection.result or {}
    if entry_only and result.get("description") == "noSuchObject":
        return []
    if result.get("description") not in ("success", "sizeLimitExceeded"):
        detail = f"searching {base} for {query}: {result.get('description')} {result.get('message', '')}".strip()
        log.warning("directory unavailable: %s", detail)
        raise DirectoryUnavailable(UNAVAILABLE, detail)
    return [entry for entry in connection.response or [] if entry.get("type") == "searchResEntry"]
