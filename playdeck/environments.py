"""Where an environment's deploys execute and which SSH host keys its targets must present.

``queue`` routes the environment's runs to the workers that consume it (``playdeck worker --queues dc2``),
e.g. the workers of one datacenter or network zone that can reach the environment's hosts. ``known_hosts``
holds the lines of an OpenSSH known_hosts file: the run's SSH connections accept these host keys and no
other (``runners.ssh_connection``), so a target whose key changed fails instead of being trusted.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from playdeck import audit, projects
from playdeck.errors import ValidationError
from playdeck.models import Environment
from playdeck.release_control import approval_settings
from playdeck.release_control.required_success import check_requirement

# A queue is a Redis list named after it; keep it to a plain word.
QUEUE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_KNOWN_HOSTS_BYTES = 1024 * 1024
KEY_TYPES = frozenset(
    {"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
     "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-dss"}
)  # fmt: skip
MARKERS = ("@cert-authority", "@revoked")
# Unset: the value that leaves a column unchanged (None means "no queue" for ``queue``).
UNCHANGED = object()


def validate_queue(value: str) -> str:
    if not isinstance(value, str) or not QUEUE_RE.fullmatch(value):
        raise ValidationError("queue", "must be 1-64 letters, digits and _ . - (starting with a letter or digit)")
    return value


def parse_known_hosts(text: str) -> str:
    """``text`` checked line by line as OpenSSH reads it (markers, host patterns, key type, base64 key);
    returned normalised: one entry per line, comments and blank lines dropped."""
    if not isinstance(text, str):
        raise ValidationError("known_hosts", "must be text")
    if len(text.encode()) > MAX_KNOWN_HOSTS_BYTES:
        raise ValidationError("known_hosts", f"larger than {MAX_KNOWN_HOSTS_BYTES} bytes")
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if any(ord(char) < 32 and char != "\t" for char in line):
            raise ValidationError("known_hosts", f"line {number}: control characters")
        fields = line.split()
        if fields[0].startswith("@"):
            if fields[0] not in MARKERS:
                raise ValidationError("known_hosts", f"line {number}: unknown marker '{fields[0]}'")
            fields = fields[1:]
        if len(fields) < 3:
            raise ValidationError("known_hosts", f"line {number}: expected 'HOSTS KEYTYPE KEY [COMMENT]'")
        _hosts, key_type, key = fields[:3]
        if key_type not in KEY_TYPES:
            raise ValidationError("known_hosts", f"line {number}: unknown key type '{key_type}'")
        try:
            blob = base64.b64decode(key, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("known_hosts", f"line {number}: the key is not base64") from None
        # The blob starts with its own type name (RFC 4253 string): a key pasted under the wrong type is caught.
        if blob[4 : 4 + len(key_type)] != key_type.encode():
            raise ValidationError("known_hosts", f"line {number}: the key is not a {key_type} key")
        entries.append(line)
    return "".join(f"{entry}\n" for entry in entries)


@dataclass(frozen=True)
class EnvironmentView:
    project: str
    environment: str
    queue: str | None
    known_hosts_entries: int
    requires_success_in: str | None
    # approval_settings.view: approvals_required, approver_roles, approver_users, ...
    approvals: dict

    def as_json(self) -> dict:
        return {
            "project": self.project,
            "environment": self.environment,
            "queue": self.queue,
            "known_hosts_entries": self.known_hosts_entries,
            "requires_success_in": self.requires_success_in,
            **self.approvals,
        }


def view(project: str, environment: Environment) -> EnvironmentView:
    return EnvironmentView(
        project,
        environment.name,
        environment.queue,
        environment.known_hosts_entries,
        environment.requires_success_in,
        approval_settings.view(environment),
    )


def get(session: Session, project_name: str, environment_name: str) -> EnvironmentView:
    project = projects.get_project(session, project_name)
    return view(project.name, projects.get_environment(project, environment_name))


def set_options(
    session: Session,
    project_name: str,
    environment_name: str,
    *,
    queue=UNCHANGED,
    known_hosts=UNCHANGED,
    requires_success_in=UNCHANGED,
    **approvals: object,
) -> EnvironmentView:
    """Route the environment to ``queue`` (None: back to the kind's default queue), replace its known hosts,
    name the environment where what is deployed here must have succeeded first (None: no such rule;
    ``playdeck.release_control.required_success``) and/or change its approval settings (``approvals``:
    ``approval_settings.FIELDS``); audited. Runs already queued keep their queue and stay queued."""
    unknown = sorted(set(approvals) - set(approval_settings.FIELDS))
    if unknown:
        raise ValidationError(unknown[0], "is not a setting of an environment")
    project = projects.get_project(session, project_name)
    environment = projects.get_environment(project, environment_name)
    before: dict = {}
    after: dict = {}
    if queue is not UNCHANGED:
        before["queue"], after["queue"] = environment.queue, None if queue is None else validate_queue(queue)
        environment.queue = after["queue"]
    if known_hosts is not UNCHANGED:
        normalised = parse_known_hosts(known_hosts)
        # Host names and key fingerprints are not secret, but the audit row stays small: counts only.
        before["known_hosts_entries"] = len(environment.known_hosts.splitlines())
        after["known_hosts_entries"] = len(normalised.splitlines())
        environment.known_hosts = normalised
    if requires_success_in is not UNCHANGED:
        before["requires_success_in"] = environment.requires_success_in
        after["requires_success_in"] = check_requirement(project, environment, requires_success_in)
        environment.requires_success_in = after["requires_success_in"]
    if approvals:
        was, now = approval_settings.apply(session, environment, approvals)
        before.update(was)
        after.update(now)
    if after:
        audit.record(
            session,
            "environment.update",
            "environment",
            f"{project.name}/{environment.name}",
            {"before": before, "after": after},
        )
    session.flush()
    return view(project.name, environment)
