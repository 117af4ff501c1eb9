"""The errors git operations raise: each names the field a person fixes, and a reason they can act on."""

from __future__ import annotations

from playdeck.errors import ValidationError

# GitError.reason: what went wrong, in words a user reads (also stable values callers may compare).
UNREACHABLE = "unreachable"
NOT_FOUND = "repository not found"
AUTH_FAILED = "authentication failed"
UNKNOWN_HOST_KEY = "unknown host key"
CHANGED_HOST_KEY = "changed host key"
UNTRUSTED_CERTIFICATE = "untrusted certificate"
TIMED_OUT = "timed out"
TOO_LARGE = "repository too large"
TRANSPORT_REFUSED = "transport not allowed"
UNKNOWN_COMMIT = "unknown commit"
FAILED = "git failed"

# Which field a person changes to fix each reason (the rest: the URL).
_FIELDS = {
    AUTH_FAILED: "git_credential",
    UNKNOWN_HOST_KEY: "git_known_hosts",
    CHANGED_HOST_KEY: "git_known_hosts",
    UNKNOWN_COMMIT: "commit",
}


class GitError(ValidationError):
    """A git operation failed. ``reason`` is one of the constants above; ``detail`` is git's own last words,
    with every credential removed. A 400 naming the field (a run that fails with it records the message)."""

    def __init__(self, reason: str, detail: str = "", field: str | None = None) -> None:
        super().__init__(field or _FIELDS.get(reason, "git_url"), f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class UnknownRef(ValidationError):
    """No branch, tag or commit of the mirror is ``ref``; ``matches`` are the closest names (at most 5)."""

    def __init__(self, ref: str, matches: list[str]) -> None:
        hint = f"; closest: {', '.join(matches)}" if matches else ""
        super().__init__("ref", f"no branch, tag or commit '{ref}' in the repository{hint}")
        self.ref = ref
        self.matches = matches
