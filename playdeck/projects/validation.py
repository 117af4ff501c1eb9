"""What a project's registration may say: names, paths inside its source, the git URL and branch, the
environments' variables. Each check returns the value as it is stored, or raises ``ValidationError`` naming
the field; none touches the database (``playdeck.projects.registry`` checks what needs it).

Paths and URLs are data handed to git and ansible-playbook later, on a worker: a path must stay inside the
source (no ``..``, not absolute, no leading ``-`` an argument parser could take for an option), and a URL
must name a transport that only fetches (``ext::`` runs a command; ``--upload-pack=…`` is an option).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from playdeck.errors import ValidationError
from playdeck.inputs import load_yaml
from playdeck.var_names import check_var_name

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
# /admin/projects/new is the registration form: no project may be called that.
RESERVED_NAMES = frozenset({"new"})
VAULT_ID_RE = re.compile(r"[A-Za-z0-9_.-]{0,100}")
MAX_PATH_CHARS = 255
MAX_URL_CHARS = 2048
MAX_BRANCH_CHARS = 255
MAX_DESCRIPTION_CHARS = 10_000
MAX_VARIABLES_BYTES = 64 * 1024
MAX_CACHE_SECONDS = 86_400
HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
USER_RE = re.compile(r"[A-Za-z0-9._-]+")
# An HTTPS user name (the token's owner, an e-mail address for some forges); never in the URL.
GIT_USERNAME_RE = re.compile(r"[A-Za-z0-9._@+-]{1,255}")
# git@host:path (scp-like): what git takes for ssh when there is a ":" before any "/" and no "://".
SCP_RE = re.compile(r"(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+):(?P<path>.+)", re.DOTALL)
# <transport>::<address> makes git run git-remote-<transport>; ext:: runs any command.
TRANSPORT_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*::")
REF_FORBIDDEN = frozenset("~^:?*[\\")
URL_HELP = "use https://host/path, ssh://[user@]host/path or user@host:path (file:// for admins)"


def text_value(value: Any, field: str, max_chars: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, "must be text")
    if len(value) > max_chars:
        raise ValidationError(field, f"must be at most {max_chars} characters")
    if "\x00" in value:
        raise ValidationError(field, "must not contain NUL characters")
    return value


def check_name(value: Any, field: str = "name") -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise ValidationError(field, "must be 1-100 letters, digits and _ . - (starting with a letter or digit)")
    if value in RESERVED_NAMES:
        raise ValidationError(field, f"'{value}' is reserved")
    return value


def _printable(value: str, field: str) -> None:
    if not value.isprintable():
        raise ValidationError(field, "must not contain control characters")


def check_relative_path(value: Any, field: str) -> str:
    """A path inside the project's source, normalised ("./a//b.yml" is "a/b.yml")."""
    value = text_value(value, field, MAX_PATH_CHARS).strip()
    if not value:
        raise ValidationError(field, "is required")
    _printable(value, field)
    path = PurePosixPath(value)
    if path.is_absolute() or value.startswith("~"):
        raise ValidationError(field, f"'{value}' must be relative to the project's source, not absolute")
    if ".." in path.parts:
        raise ValidationError(field, f"'{value}' must stay inside the project's source (no '..')")
    if any(part.startswith("-") for part in path.parts):
        raise ValidationError(field, f"'{value}': a part of the path starts with '-'")
    if str(path) == ".":
        raise ValidationError(field, "names no file")
    return str(path)


def check_inside(base: Path, relative: str, field: str, want_file: bool) -> None:
    """``relative`` exists under ``base`` and resolves (symlinks too) inside it: for directory projects."""
    path = (base / relative).resolve()
    if not path.is_relative_to(base.resolve()):
        raise ValidationError(field, f"'{relative}' points outside {base}")
    if not (path.is_file() if want_file else path.exists()):
        raise ValidationError(field, f"'{relative}' not found in {base}")


# TODO(git): replace check_git_url and check_branch with playdeck.git's URL and ref checks once that
# package is on main; these follow the same rules (issue 22: https, ssh, scp-like, file:// for admins).
def check_git_url(value: Any, field: str = "git_url", allow_file: bool = False) -> str:
    url = text_value(value, field, MAX_URL_CHARS).strip()
    if not url:
        raise ValidationError(field, "is required for a git project")
    if url.startswith("-"):
        raise ValidationError(field, "must not start with '-' (git would take it for an option)")
    if TRANSPORT_RE.match(url):
        raise ValidationError(field, f"'<transport>::' URLs are not allowed; {URL_HELP}")
    if not url.isascii() or not url.isprintable() or any(char.isspace() for char in url):
        raise ValidationError(field, "must not contain spaces, control or non-ASCII characters")
    if "://" in url:
        _check_url_with_scheme(url, field, allow_file)
    else:
        _check_scp_like(url, field)
    return url


def _check_url_with_scheme(url: str, field: str, allow_file: bool) -> None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if not allow_file:
            raise ValidationError(field, "file:// URLs are for admins only; " + URL_HELP)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValidationError(field, "a file:// URL names an absolute path on the server: file:///srv/repo.git")
        return
    if scheme not in ("https", "ssh"):
        raise ValidationError(field, f"the {scheme or 'empty'}:// scheme is not allowed; {URL_HELP}")
    try:
        host, user, password = parts.hostname, parts.username, parts.password
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValidationError(field, "has an invalid port") from None
    if password is not None or (scheme == "https" and user is not None):
        raise ValidationError(
            field, "must not carry a credential: set git_username and the git password or token instead"
        )
    if not host or not _valid_host(host):
        raise ValidationError(field, "names no valid host")
    if user is not None and not USER_RE.fullmatch(user):
        raise ValidationError(field, "has an invalid user name")
    if not parts.path or parts.path == "/":
        raise ValidationError(field, "names no repository path")


def _check_scp_like(url: str, field: str) -> None:
    match = SCP_RE.fullmatch(url)
    if match is None or "/" in url.split(":", 1)[0]:
        raise ValidationError(field, f"'{url}' is a local path, not a URL; {URL_HELP}")
    user, host, path = match["user"], match["host"], match["path"]
    if user is not None and not USER_RE.fullmatch(user):
        raise ValidationError(field, "has an invalid user name")
    if not _valid_host(host):
        raise ValidationError(field, "names no valid host")
    if path.startswith("-"):
        raise ValidationError(field, "the repository path must not start with '-'")


def _valid_host(host: str) -> bool:
    """A DNS name or an IP address; never something ssh could read as an option ("-oProxyCommand=…")."""
    if HOST_RE.fullmatch(host):
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def check_branch(value: Any, field: str = "git_branch") -> str:
    """A branch name git accepts (``git check-ref-format --branch``) and no option."""
    name = text_value(value, field, MAX_BRANCH_CHARS).strip()
    if not name:
        raise ValidationError(field, "is required for a git project")
    problem = _ref_problem(name)
    if problem:
        raise ValidationError(field, f"'{name}' is not a valid branch name: {problem}")
    return name


def _ref_problem(name: str) -> str:
    if name.startswith("-"):
        return "it starts with '-'"
    if not name.isascii() or not name.isprintable() or " " in name:
        return "spaces, control and non-ASCII characters are not allowed"
    if REF_FORBIDDEN & set(name):
        return "~ ^ : ? * [ and \\ are not allowed"
    if ".." in name or "@{" in name or name == "@" or "//" in name:
        return "'..', '@{', '//' and a lone '@' are not allowed"
    if name.startswith("/") or name.endswith(("/", ".")):
        return "it starts with '/' or ends with '/' or '.'"
    if any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        return "a part starts with '.' or ends with '.lock'"
    return ""


def check_cache_seconds(value: Any, field: str = "git_cache_seconds") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CACHE_SECONDS:
        raise ValidationError(
            field, f"must be a whole number of seconds from 0 (fetch every run) to {MAX_CACHE_SECONDS}"
        )
    return value


def check_flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field, "must be true or false")
    return value


def check_vault_id(value: Any, field: str = "vault_id") -> str:
    if not isinstance(value, str) or not VAULT_ID_RE.fullmatch(value):
        raise ValidationError(field, "must be up to 100 letters, digits and _ . - (empty: the default vault id)")
    return value


def check_git_username(value: Any, field: str = "git_username") -> str:
    name = text_value("" if value is None else value, field, 255).strip()
    if name and not GIT_USERNAME_RE.fullmatch(name):
        raise ValidationError(field, "must be letters, digits and . _ @ + -")
    return name


def check_variables(value: Any, field: str) -> str:
    """The environment's variables: a YAML mapping of variable names a launch could also set (the platform's
    and Ansible's own names are reserved), stored as typed; "" for none."""
    text = text_value("" if value is None else value, field, MAX_VARIABLES_BYTES)
    if not text.strip():
        return ""
    parsed = load_yaml(text, field, MAX_VARIABLES_BYTES)
    if parsed is None:
        return ""
    if not isinstance(parsed, dict):
        raise ValidationError(field, "must be a YAML mapping of variable names to values")
    for name in parsed:
        check_var_name(name, field)
    return text


@contextmanager
def field_prefix(field: str) -> Iterator[None]:
    """A check written for a bare field ("known_hosts") reports it where it sits: "environments.prod.known_hosts"."""
    try:
        yield
    except ValidationError as exc:
        message = exc.message.removeprefix(f"{exc.field}: ")
        raise ValidationError(field, message) from None


def url_transport(url: str) -> str:
    """ "https", "ssh" (ssh:// and scp-like) or "file", for a URL ``check_git_url`` accepted."""
    scheme = url.partition("://")[0].lower() if "://" in url else "ssh"
    return scheme
