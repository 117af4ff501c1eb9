"""A git server's push hook: which service sent it, whether its signature is right, and what was pushed.

- GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``, ``X-GitHub-Event: push``;
- Gitea (and Forgejo): ``X-Gitea-Signature: <hex HMAC-SHA256 of the body>``, ``X-Gitea-Event: push`` (it also
  sends GitHub's headers; its own are read first);
- GitLab: ``X-Gitlab-Token: <the secret itself>``, ``X-Gitlab-Event: Push Hook``.

Every comparison is constant-time (``hmac.compare_digest``). Plain values in, plain values out: no DB, no git.
The payload is read only after the signature is checked, so an unsigned caller learns nothing from its errors.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from playdeck.errors import ValidationError

GITHUB, GITEA, GITLAB = "github", "gitea", "gitlab"
# Each service's name for a push event (anything else, e.g. GitHub's "ping", is answered and ignored).
PUSH_EVENTS = {GITHUB: "push", GITEA: "push", GITLAB: "Push Hook"}
EVENT_HEADERS = {GITHUB: "X-GitHub-Event", GITEA: "X-Gitea-Event", GITLAB: "X-Gitlab-Event"}
BRANCH_PREFIX = "refs/heads/"
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_HEX_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
MAX_BRANCH_CHARS = 255


@dataclass(frozen=True)
class Signed:
    """What a request claims: the service, its signature (or GitLab's token) and the event it names."""

    service: str
    signature: str
    event: str


@dataclass(frozen=True)
class Push:
    branch: str | None  # None: a tag (or another kind of ref) was pushed
    after: str | None  # None: the branch was deleted
    ref: str

    @property
    def deploys(self) -> bool:
        return self.branch is not None and self.after is not None


def signed_by(headers: Mapping[str, str]) -> Signed | None:
    """The service and signature the headers carry; None when they carry none."""
    for service, header in ((GITEA, "X-Gitea-Signature"), (GITHUB, "X-Hub-Signature-256"), (GITLAB, "X-Gitlab-Token")):
        value = headers.get(header)
        if value:
            return Signed(service, value.strip(), headers.get(EVENT_HEADERS[service], "").strip())
    return None


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(signed: Signed, secret: str, body: bytes) -> bool:
    """True only when the signature (or GitLab's token) matches the project's secret for this body."""
    if signed.service == GITLAB:
        return hmac.compare_digest(signed.signature.encode(), secret.encode())
    given = signed.signature
    if signed.service == GITHUB:
        scheme, _, given = given.partition("=")
        if scheme != "sha256":
            return False
    if not _HEX_SIGNATURE.fullmatch(given):
        return False
    return hmac.compare_digest(given.lower().encode(), _hmac_hex(secret, body).encode())


def is_push(signed: Signed) -> bool:
    return signed.event == PUSH_EVENTS[signed.service]


def parse_push(body: bytes) -> Push:
    """The pushed ref and the commit it points to now. ValidationError (400) for a payload that is not one."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise ValidationError("body", "is not valid JSON") from None
    if not isinstance(payload, dict):
        raise ValidationError("body", "must be a JSON object (a push event's payload)")
    ref, after = payload.get("ref"), payload.get("after")
    if not isinstance(ref, str) or not ref.startswith("refs/") or len(ref) > MAX_BRANCH_CHARS + len(BRANCH_PREFIX):
        raise ValidationError("ref", "must be the pushed ref, e.g. refs/heads/main")
    if not isinstance(after, str) or not _SHA.fullmatch(after):
        raise ValidationError("after", "must be the full id of the commit the ref points to now")
    branch = ref[len(BRANCH_PREFIX) :] if ref.startswith(BRANCH_PREFIX) else None
    # All zeros: the ref was deleted.
    return Push(branch=branch or None, after=None if set(after) == {"0"} else after, ref=ref)
