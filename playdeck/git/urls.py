"""Which repository URLs git may be given: https, ssh (URL or scp-like), and file:// for administrators.

Everything else is refused before git sees it: git's ``transport::address`` syntax (``ext::`` runs a command),
plain http (a token would travel in clear), a leading ``-`` (read as an option), an option-like host or path
(``ssh://-oProxyCommand=…``: ssh reads it as an option), whitespace or control characters, and credentials in
the URL (they would be stored, logged and shown: they belong in the project's credential).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playdeck.errors import ValidationError

FIELD = "git_url"
MAX_URL_LENGTH = 2048
HTTPS, SSH, FILE = "https", "ssh", "file"

_TRANSPORT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*::")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
# A host name or an IPv4 address, or an IPv6 address in brackets.
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")
_USER = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]*")
# git's scp-like syntax: user@host:path (no "/" before the ":", which would make it a local path).
_SCP = re.compile(r"(?P<user>[^@/:]+)@(?P<host>[^/:\[\]]+|\[[^\]]*\]):(?P<path>.*)")


def check_url(url: str, allow_file: bool = False) -> str:
    """``url`` (surrounding whitespace removed) if git may fetch from it, else a ValidationError on git_url.
    ``allow_file``: file:// URLs too (a path on this server: for administrators only)."""
    url = url.strip()
    _check_characters(url)
    if _TRANSPORT.match(url):
        raise ValidationError(FIELD, "git's transport::address syntax is not allowed; use https:// or ssh://")
    scheme = _SCHEME.match(url)
    if scheme is None:
        return _check_scp(url)
    name = scheme.group(1).lower()
    if name == HTTPS:
        return _check_https(url)
    if name == SSH:
        return _check_ssh(url)
    if name == FILE:
        return _check_file(url, allow_file)
    if name == "http":
        raise ValidationError(FIELD, "plain http:// is not allowed (credentials would travel in clear); use https://")
    raise ValidationError(FIELD, f"the {name}:// scheme is not allowed; use https://, ssh:// or user@host:path")


def transport(url: str) -> str:
    """The transport of a URL check_url accepted: "https", "ssh" (scp-like too) or "file"."""
    scheme = _SCHEME.match(url)
    return scheme.group(1).lower() if scheme else SSH


def origin(url: str) -> str:
    """``scheme://host[:port]/`` of an https URL: what a credential sent with its requests is scoped to."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}/"


def _check_characters(url: str) -> None:
    if not url:
        raise ValidationError(FIELD, "is required")
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(FIELD, f"is longer than {MAX_URL_LENGTH} characters")
    if url.startswith("-"):
        raise ValidationError(FIELD, "must not start with '-'")
    if any(char.isspace() or not char.isprintable() for char in url):
        raise ValidationError(FIELD, "must not contain spaces or control characters")


def _check_host(host: str) -> None:
    if not host:
        raise ValidationError(FIELD, "names no host")
    if host.startswith("-") or not _HOST.fullmatch(host):
        raise ValidationError(FIELD, f"'{host}' is not a valid host name")


def _without_port(hostport: str, port: int | None) -> str:
    return hostport.rsplit(":", 1)[0] if port is not None else hostport


def _check_path(path: str) -> None:
    if not path.lstrip("/"):
        raise ValidationError(FIELD, "names no repository path")
    if path.lstrip("/").startswith("-"):
        raise ValidationError(FIELD, "the repository path must not start with '-'")


def _split(url: str):
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ValidationError(FIELD, f"is not a valid URL ({exc})") from None
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ValidationError(FIELD, "must not contain '?' or '#'")
    return parts


def _check_https(url: str) -> str:
    parts = _split(url)
    if "@" in parts.netloc:
        raise ValidationError(
            FIELD, "must not contain a user name or token: put them in the project's git credential instead"
        )
    _check_host(_without_port(parts.netloc, parts.port))
    _check_path(parts.path)
    return url


def _check_ssh(url: str) -> str:
    parts = _split(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if ":" in userinfo:
        raise ValidationError(FIELD, "must not contain a password: use an SSH key as the project's git credential")
    if userinfo and not _USER.fullmatch(userinfo):
        raise ValidationError(FIELD, f"'{userinfo}' is not a valid user name")
    _check_host(_without_port(hostport, parts.port))
    _check_path(parts.path)
    return url


def _check_scp(url: str) -> str:
    match = _SCP.fullmatch(url)
    if match is None:
        raise ValidationError(FIELD, "is not a repository URL: use https://…, ssh://… or user@host:path")
    if not _USER.fullmatch(match["user"]):
        raise ValidationError(FIELD, f"'{match['user']}' is not a valid user name")
    _check_host(match["host"])
    _check_path(match["path"])
    return url


def _check_file(url: str, allow_file: bool) -> str:
    if not allow_file:
        raise ValidationError(FIELD, "file:// URLs (a path on the server) are for administrators only")
    parts = _split(url)
    if parts.netloc not in ("", "localhost"):
        raise ValidationError(FIELD, "a file:// URL names a path on this server: file:///path/to/repo.git")
    _check_path(parts.path)
    return url
