"""What a project's registration may say: names, paths inside its source, the git URL and branch, the
environments' variables. Each check returns the value as it is stored, or raises ``ValidationError`` naming
the field; none touches the database (``playdeck.projects.registry`` checks what needs it).

Paths and URLs are data handed to git and ansible-playbook later, on a worker: a path must stay inside the
source (no ``..``, not absolute, no leading ``-`` an argument parser could take for an option), and a URL
must name a transport that only fetches (``ext::`` runs a command; ``--upload-pack=…`` is an option).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from playdeck.errors import ValidationError
from playdeck.git.refs import check_ref
from playdeck.git.urls import check_url
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
# An HTTPS user name (the token's owner, an e-mail address for some forges); never in the URL.
GIT_USERNAME_RE = re.compile(r"[A-Za-z0-9._@+-]{1,255}")


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


def check_git_url(value: Any, field: str = "git_url", allow_file: bool = False) -> str:
    """A URL git may fetch from (``playdeck.git.urls``: https, ssh, scp-like, file:// with ``allow_file``)."""
    url = text_value(value, field, MAX_URL_CHARS)
    with field_prefix(field):
        return check_url(url, allow_file=allow_file)


def check_branch(value: Any, field: str = "git_branch") -> str:
    """A branch name git accepts (``playdeck.git.refs``: check-ref-format's rules) and no option."""
    name = text_value(value, field, MAX_BRANCH_CHARS)
    with field_prefix(field):
        return check_ref(name)


def check_whole_number(value: Any, field: str, most: int, message: str) -> int:
    """A whole number from 0 to ``most`` (true and false are not numbers here), else ``message``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        raise ValidationError(field, message)
    return value


def check_cache_seconds(value: Any, field: str = "git_cache_seconds") -> int:
    message = f"must be a whole number of seconds from 0 (fetch every run) to {MAX_CACHE_SECONDS}"
    return check_whole_number(value, field, MAX_CACHE_SECONDS, message)


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
