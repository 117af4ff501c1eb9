"""What git's error output means, in a reason a person can act on (playdeck.git.errors), and that output
cleaned of anything secret before it goes into an error message, a log or a run's record."""

from __future__ import annotations

import re

from playdeck.git import errors

# Checked in order: the first pattern found in git's (and ssh's, curl's) output decides. LC_ALL=C keeps them
# English. Host key problems first: ssh's "Host key verification failed" also ends in "Could not read from
# remote repository", as does a refused key.
_PATTERNS = (
    (errors.CHANGED_HOST_KEY, r"REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed"),
    (errors.UNKNOWN_HOST_KEY, r"host key is known for|Host key verification failed|No .* host key is known"),
    (errors.TRANSPORT_REFUSED, r"transport '[^']*' not allowed|protocol '[^']*' is not supported"),
    (errors.UNTRUSTED_CERTIFICATE, r"SSL certificate problem|server certificate verification failed"),
    (
        errors.AUTH_FAILED,
        r"Authentication failed|Permission denied \(|returned error: 40[13]|could not read (Username|Password)"
        r"|terminal prompts disabled|HTTP Basic: Access denied|Invalid username or password",
    ),
    (errors.TIMED_OUT, r"[Tt]imed out|Operation too slow|Connection timed out"),
    (
        errors.UNREACHABLE,
        r"Could not resolve host|Could not resolve hostname|Connection refused|Failed to connect|No route to host"
        r"|Network is unreachable|Connection reset|Connection closed by|unable to access",
    ),
    (
        errors.NOT_FOUND,
        r"does not appear to be a git repository|[Rr]epository .* not found|returned error: 404|not a git repository"
        r"|does not exist",
    ),
)
_COMPILED = tuple((reason, re.compile(pattern)) for reason, pattern in _PATTERNS)
MAX_DETAIL = 400


def reason_of(stderr: str) -> str:
    return diagnose(stderr)[0]


def diagnose(stderr: str) -> tuple[str, str]:
    """The reason, and the line of git's output that shows it (empty if none does)."""
    for reason, pattern in _COMPILED:
        for line in stderr.replace("\r", "\n").splitlines():
            if pattern.search(line):
                return reason, line
    return errors.FAILED, ""


def clean(stderr: str, secrets: tuple[str, ...], private_dir: str) -> str:
    """The line that shows what went wrong and the last lines git wrote, without ``secrets``, without an
    Authorization header, and with the command's private directory (key file paths) shortened."""
    lines = [line.strip(" @") for line in stderr.replace("\r", "\n").splitlines()]
    lines = [line for line in lines if line]
    shown = lines[-3:]
    telling = diagnose(stderr)[1].strip(" @")
    if telling and telling not in shown:
        shown = [telling, *shown]
    text = " / ".join(shown)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = re.sub(r"(?i)(authorization:\s*)\S+(\s+\S+)?", r"\1***", text)
    if private_dir:
        text = text.replace(private_dir, "…")
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "…"
