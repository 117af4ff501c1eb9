"""Where a webhook may be sent: never to this machine or the networks behind it, unless an admin allows it.

A webhook is a request the platform makes on an admin's behalf, from inside the network: aimed at
127.0.0.1, 169.254.169.254 (a cloud's metadata service) or a private range, it reaches services that
trust their network and reports back what they answer. So a URL whose host resolves to a loopback,
link-local, private, shared, reserved, unspecified or multicast address is refused when the webhook is
made and again at every delivery (DNS answers change). A delivery connects to the very address it
checked (``send``), never resolving the name a second time, so a name that re-resolves between the
check and the connection (DNS rebinding) cannot steer it elsewhere. ``PLAYDECK_WEBHOOK_ALLOWED_NETWORKS``
lists the networks an admin allows anyway (a receiver on the LAN, a test receiver on 127.0.0.1).
"""

from __future__ import annotations

import base64
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import requests.certs
import urllib3

from playdeck.errors import ValidationError
from playdeck.settings import Network, get_settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedTarget(ValidationError):
    """The URL's host is, or resolves to, an address webhooks may not reach."""

    def __init__(self, message: str) -> None:
        super().__init__("url", message)


class UnresolvedTarget(Exception):
    """The URL's host does not resolve (now): not a refusal, DNS may answer later."""


# NAT64's well-known prefix: a gateway turns 64:ff9b::a00:1 into a connection to 10.0.0.1.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), which is where it leads."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


def _kind(address: Address) -> str | None:
    """What makes ``address`` unfit for a webhook (None: a public address)."""
    embedded = _embedded(address)
    if embedded is not None:
        return _kind(embedded)
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("unspecified", address.is_unspecified),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        # Shared (100.64/10), documentation, benchmarking and reserved ranges: not on the internet either.
        ("non-public", not address.is_global),
    )
    return next((kind for kind, matches in checks if matches), None)


def _allowed(address: Address, networks: Iterable[Network]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def refusal(address: Address, networks: Iterable[Network] | None = None) -> str | None:
    """Why a webhook may not be sent to ``address`` (None: it may)."""
    kind = _kind(address)
    if kind is None or _allowed(address, get_settings().webhook_allowed_networks if networks is None else networks):
        return None
    return (
        f"its host resolves to a {kind} address ({address}), which webhooks may not reach; an admin can allow "
        "that network with PLAYDECK_WEBHOOK_ALLOWED_NETWORKS"
    )


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to now (an IP literal: itself)."""
    try:
        return [ipaddress.ip_address(host.split("%", 1)[0])]
    except ValueError:
        pass
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvedTarget(f"{host} does not resolve ({exc})") from None
    found: list[Address] = []
    for *_, sockaddr in answers:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise UnresolvedTarget(f"{host} resolves to no address")
    return found


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def checked_address(url: str) -> Address:
    """The address to send ``url``'s request to: RefusedTarget if any address its host resolves to is
    refused (a name that answers both a public and a private address is not trusted with either),
    UnresolvedTarget if it resolves to none."""
    addresses = resolve(urlsplit(url).hostname or "", _port(url))
    for address in addresses:
        why = refusal(address)
        if why is not None:
            raise RefusedTarget(why)
    return addresses[0]


def check_url(url: str) -> None:
    """At creation: refuse a URL whose host resolves to a refused address. One that does not resolve
    yet is let through; every delivery checks again."""
    try:
        checked_address(url)
    except UnresolvedTarget:
        pass


@dataclass(frozen=True)
class Answer:
    status: int


def _request_target(url: str) -> tuple[str, str, dict[str, str]]:
    """The path to ask for, the Host header, and the credential of ``user:password@`` as requests sent it."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname or ""
    host_header = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    headers: dict[str, str] = {}
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    return path, host_header, headers


def send(url: str, address: Address, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST ``body`` to ``url`` over a connection to ``address`` (the one checked), with the URL's own host
    name in the Host header and, over HTTPS, for SNI and the certificate check. Redirects are not
    followed; the answer's body is never read. Raises urllib3's errors."""
    parts = urlsplit(url)
    path, host_header, auth = _request_target(url)
    options = {"timeout": urllib3.Timeout(total=timeout), "retries": False, "maxsize": 1}
    if parts.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            str(address),
            _port(url),
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
            cert_reqs="CERT_REQUIRED",
            ca_certs=requests.certs.where(),
            **options,
        )
    else:
        pool = urllib3.HTTPConnectionPool(str(address), _port(url), **options)
    with pool:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers={**headers, **auth, "Host": host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        response.release_conn()
        return Answer(response.status)
