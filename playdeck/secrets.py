"""Project secrets: the SSH private key, become password and vault password a project's runs are given, and
the project's own: the credential its git repository is fetched with and the secret its push hook is signed with.

Only ciphertext is stored: Fernet (AES-128-CBC with HMAC-SHA256) under the key in PLAYDECK_SECRET_KEY, which
lives in the environment of the web and worker processes and never in the DB, so a copy of the DB (or a
backup) reveals no secret. The encrypted text also names the project, scope and kind it was set for, so a
ciphertext copied into another row (another project's key for this project's run) is refused.

A secret belongs to every environment of its project (environment None) or to one environment; for a run,
the environment's own secret of a kind wins over the project-wide one. The project's own kinds (``PROJECT_KINDS``)
are project-wide only and never reach a playbook. Nothing here returns a value except ``secrets_for_run``,
called by the worker just before the run (``runners.secret_files`` hands the values to ansible-runner and
removes every copy afterwards), and ``project_secret`` (the git credential for a fetch, the push hook's
secret); listings are masked, audit events name the kind and the scope, never the value.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_ssh_private_key
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from playdeck import audit, masking, projects
from playdeck.errors import NotFound, PlaydeckError, ValidationError
from playdeck.models import Environment, Project, Secret, utcnow
from playdeck.serializers import iso
from playdeck.settings import Settings, get_settings

SSH_KEY = "ssh_key"
BECOME_PASSWORD = "become_password"
VAULT_PASSWORD = "vault_password"
# What a run's playbook is given.
RUN_KINDS = (SSH_KEY, BECOME_PASSWORD, VAULT_PASSWORD)
# The project's own, for every environment: git's SSH key, or its HTTPS password or token (the user name is
# Project.git_username), and the secret push hooks are verified with.
GIT_SSH_KEY = "git_ssh_key"
GIT_PASSWORD = "git_password"
WEBHOOK_SECRET = "webhook_secret"
PROJECT_KINDS = (GIT_SSH_KEY, GIT_PASSWORD, WEBHOOK_SECRET)
KINDS = RUN_KINDS + PROJECT_KINDS
# A push hook's secret is all that stands between the internet and a deploy: not a short word.
MIN_WEBHOOK_SECRET_CHARS = 16
# The same for every secret: a listing tells that a secret is set, not how long it is.
MASK = "••••••••"
MAX_PASSWORD_CHARS = 4096
MAX_KEY_CHARS = 16384
KEY_HELP = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


class SecretKeyError(PlaydeckError):
    """PLAYDECK_SECRET_KEY is not set, not a Fernet key, or not the key a stored secret was encrypted with:
    the server's configuration, not the request, is at fault."""

    status_code = 503


@dataclass(frozen=True)
class SecretView:
    """What may be shown of a secret: never its value nor its ciphertext."""

    project: str
    kind: str
    # None: every environment of the project.
    environment: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    updated_by: str
    masked: str = MASK

    @property
    def scope(self) -> str:
        return "project" if self.environment is None else "environment"

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "kind": self.kind,
            "scope": self.scope,
            "environment": self.environment,
            "value": self.masked,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True)
class RunSecrets:
    """The plaintext secrets of one run; its repr names the kinds only, so a log line or a traceback that
    shows it reveals nothing."""

    ssh_key: str | None = field(default=None, repr=False)
    become_password: str | None = field(default=None, repr=False)
    vault_password: str | None = field(default=None, repr=False)
    # The run's secret launch inputs (playdeck.launch_inputs), by variable name: extra vars of the run.
    inputs: dict[str, str] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"RunSecrets({', '.join(self.kinds + sorted(self.inputs)) or 'none'})"

    def __bool__(self) -> bool:
        return bool(self.kinds) or bool(self.inputs)

    @property
    def kinds(self) -> list[str]:
        return [kind for kind in RUN_KINDS if getattr(self, kind)]

    def _values(self) -> list[str]:
        """The secrets to mask: each password and secret launch input; the SSH key whole, its base64 body
        and each line of it."""
        found = [value for value in (self.become_password, self.vault_password, *self.inputs.values()) if value]
        if self.ssh_key:
            body = [line.strip() for line in self.ssh_key.splitlines() if line.strip() and "-----" not in line]
            found += [self.ssh_key, self.ssh_key.strip(), "".join(body), *body]
        return found

    @cached_property
    def masker(self) -> masking.Masker:
        return masking.Masker(self._values())

    def needles(self) -> list[str]:
        """The strings that must not appear in a run's events and files, longest first: every form of
        ``playdeck.masking.encoded_forms`` of each secret."""
        return self.masker.needles

    def redact(self, text: str) -> str:
        return self.masker.mask(text)

    def redact_event(self, event: dict[str, Any]) -> bool:
        """Mask every known secret in an ansible-runner event, in place; True if there was one to mask."""
        if not self.masker or not self.masker.may_hold(event):
            return False
        _redact_in_place(event, self.masker.mask)
        return True


def _redact_in_place(value: Any, redact) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        for key in list(value):
            value[key] = _redact_in_place(value[key], redact)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = _redact_in_place(item, redact)
    return value


# --- the key ------------------------------------------------------------------------------------------


def cipher(settings: Settings | None = None) -> MultiFernet:
    """The configured key(s): "new,old" while rotating (the first encrypts, every one decrypts)."""
    raw = (settings or get_settings()).secret_key
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    if not keys:
        raise SecretKeyError(
            "PLAYDECK_SECRET_KEY is not set: secrets cannot be encrypted or decrypted. Set it (or "
            "PLAYDECK_SECRET_KEY_FILE, a file holding it) in the environment of the web and worker processes to a "
            f"key made with: {KEY_HELP}"
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError):
        # Not chained: nothing about the key itself belongs in a log.
        raise SecretKeyError(
            "PLAYDECK_SECRET_KEY is not a valid Fernet key (32 url-safe base64-encoded bytes; several keys are "
            f"separated by commas); make one with: {KEY_HELP}"
        ) from None


def _seal(fernet: MultiFernet, secret: Secret, value: str) -> str:
    envelope = {"project_id": secret.project_id, "scope": secret.scope, "kind": secret.kind, "value": value}
    return fernet.encrypt(json.dumps(envelope).encode()).decode("ascii")


def _open(fernet: MultiFernet, secret: Secret, where: str) -> str:
    try:
        envelope = json.loads(fernet.decrypt(secret.ciphertext.encode("ascii")))
    except (InvalidToken, ValueError):
        raise SecretKeyError(
            f"the {secret.kind} secret of {where} cannot be decrypted: PLAYDECK_SECRET_KEY is not the key it "
            "was encrypted with (while rotating keys, list the old key after the new one)"
        ) from None
    if (envelope.get("project_id"), envelope.get("scope"), envelope.get("kind")) != (
        secret.project_id,
        secret.scope,
        secret.kind,
    ):
        raise SecretKeyError(f"the {secret.kind} secret of {where} was encrypted for another project, scope or kind")
    return envelope["value"]


# --- validation -----------------------------------------------------------------------------------------


def validate(kind: str, value: str) -> str:
    """The value as it will be stored and used; ValidationError (never quoting the value) if unusable."""
    if kind not in KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(KINDS)}")
    if not isinstance(value, str):
        raise ValidationError("value", "must be text")
    if "\x00" in value:
        raise ValidationError("value", "must not contain NUL characters")
    if kind in (SSH_KEY, GIT_SSH_KEY):
        return _validate_ssh_key(value)
    if kind == WEBHOOK_SECRET and len(value) < MIN_WEBHOOK_SECRET_CHARS:
        raise ValidationError("value", f"a webhook secret must be at least {MIN_WEBHOOK_SECRET_CHARS} characters")
    if not 1 <= len(value) <= MAX_PASSWORD_CHARS:
        raise ValidationError("value", f"a password must be 1 to {MAX_PASSWORD_CHARS} characters")
    if "\n" in value or "\r" in value:
        # The become password answers a prompt as one line; Ansible reads a vault password file's text.
        raise ValidationError("value", "a password must be a single line")
    if kind == VAULT_PASSWORD and value != value.strip():
        raise ValidationError("value", "a vault password must not begin or end with whitespace (Ansible strips it)")
    return value


def _validate_ssh_key(value: str) -> str:
    text = value.replace("\r\n", "\n").strip()
    if not text:
        raise ValidationError("value", "an SSH private key is required")
    if len(text) > MAX_KEY_CHARS:
        raise ValidationError("value", f"an SSH private key must be at most {MAX_KEY_CHARS} characters")
    # ssh-add wants the final newline.
    text += "\n"
    data = text.encode()
    try:
        if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
            load_ssh_private_key(data, password=None)
        else:
            load_pem_private_key(data, password=None)
    except TypeError:
        raise ValidationError(
            "value", "the SSH key is protected by a passphrase; store it without one (ssh-agent cannot ask for it)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValidationError("value", "not an SSH private key (OpenSSH or PEM format expected)") from None
    return text


# --- the service ------------------------------------------------------------------------------------------


def _scope(environment: Environment | None) -> str:
    return "" if environment is None else str(environment.id)


def _find(session: Session, project: Project, environment: Environment | None, kind: str) -> Secret | None:
    return session.scalar(
        select(Secret).where(Secret.project_id == project.id, Secret.scope == _scope(environment), Secret.kind == kind)
    )


def _lookup(session: Session, project: str, environment: str | None) -> tuple[Project, Environment | None]:
    found = projects.get_project(session, project)
    return found, (projects.get_environment(found, environment) if environment else None)


def _view(project: Project, secret: Secret) -> SecretView:
    names = {env.id: env.name for env in project.environments}
    return SecretView(
        project=project.name,
        kind=secret.kind,
        environment=None if secret.environment_id is None else names.get(secret.environment_id, "?"),
        created_at=secret.created_at,
        updated_at=secret.updated_at,
        updated_by=secret.updated_by,
    )


def set_secret(
    session: Session, project: str, environment: str | None, kind: str, value: str, who: str | None = None
) -> SecretView:
    """Set (or replace) ``project``'s secret of ``kind``, for one environment or, with ``environment`` None,
    for all of them. Raises ValidationError for an unusable value, NotFound for an unknown project or
    environment, SecretKeyError (503) when PLAYDECK_SECRET_KEY is not usable. Audited as ``secret.set``."""
    value = validate(kind, value)
    if kind in PROJECT_KINDS and environment:
        raise ValidationError("environment", f"a {kind} belongs to the whole project, not to one environment")
    # What the caller got wrong (404) before what the server lacks (503).
    found, env = _lookup(session, project, environment)
    fernet = cipher()
    # Setting a project's secrets one at a time (the project row's lock, until commit): a second request
    # then finds the first one's row and updates it. The unique constraint is the backstop where the lock
    # is a no-op (SQLite, which serializes writers anyway).
    session.execute(select(Project.id).where(Project.id == found.id).with_for_update())
    who = who or audit.current_actor().name
    now = utcnow()
    secret = _find(session, found, env, kind)
    replaced = secret is not None
    if secret is None:
        secret = Secret(
            project_id=found.id,
            environment_id=None if env is None else env.id,
            scope=_scope(env),
            kind=kind,
            created_at=now,
        )
        secret.ciphertext = _seal(fernet, secret, value)
        try:
            # A savepoint: if another request inserted the same secret meanwhile, the unique constraint
            # refuses this row and that one is updated instead, without undoing the caller's transaction.
            with session.begin_nested():
                secret.updated_at, secret.updated_by = now, who
                session.add(secret)
        except IntegrityError:
            secret = _find(session, found, env, kind)
            if secret is None:
                raise
            replaced = True
    if replaced:
        secret.ciphertext = _seal(fernet, secret, value)
        secret.updated_at, secret.updated_by = now, who
    session.flush()
    audit.record(
        session,
        "secret.set",
        "project",
        found.name,
        {"kind": kind, "environment": environment or None, "replaced": replaced},
        actor=who,
    )
    return _view(found, secret)


def delete_secret(session: Session, project: str, environment: str | None, kind: str, who: str | None = None) -> None:
    """Remove ``project``'s secret of ``kind`` for ``environment`` (None: the project-wide one); NotFound if
    there is none. Needs no key. Audited as ``secret.delete``."""
    if kind not in KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(KINDS)}")
    found, env = _lookup(session, project, environment)
    secret = _find(session, found, env, kind)
    if secret is None:
        where = "every environment" if env is None else f"environment '{env.name}'"
        raise NotFound(f"project '{found.name}' has no {kind} secret for {where}")
    session.delete(secret)
    session.flush()
    who = who or audit.current_actor().name
    audit.record(
        session, "secret.delete", "project", found.name, {"kind": kind, "environment": environment or None}, actor=who
    )


def list_secrets(session: Session, project: str) -> list[SecretView]:
    """``project``'s secrets, masked: project-wide ones first, then by environment, then by kind. Needs no key."""
    found = projects.get_project(session, project)
    rows = session.scalars(select(Secret).where(Secret.project_id == found.id))
    views = [_view(found, secret) for secret in rows]
    return sorted(views, key=lambda v: (v.environment is not None, v.environment or "", KINDS.index(v.kind)))


def secrets_for_run(session: Session, project_id: int, environment_id: int) -> RunSecrets:
    """The decrypted secrets a run of ``project_id`` in ``environment_id`` gets (the environment's own secret
    of a kind over the project-wide one). A project without secrets needs no key; otherwise SecretKeyError
    when the key is not set or not the right one."""
    rows = list(
        session.scalars(
            select(Secret).where(
                Secret.project_id == project_id,
                Secret.scope.in_(["", str(environment_id)]),
                Secret.kind.in_(RUN_KINDS),
            )
        )
    )
    if not rows:
        return RunSecrets()
    chosen: dict[str, Secret] = {}
    for secret in sorted(rows, key=lambda s: s.scope != ""):  # project-wide first, the environment's over it
        chosen[secret.kind] = secret
    names = _names(session, project_id, environment_id)
    try:
        fernet = cipher()
    except SecretKeyError as exc:
        raise SecretKeyError(f"project '{names[0]}' has secrets ({', '.join(sorted(chosen))}) but {exc}") from None
    values = {}
    for kind, secret in chosen.items():
        where = f"project '{names[0]}'" + ("" if secret.scope == "" else f" environment '{names[1]}'")
        values[kind] = _open(fernet, secret, where)
    return RunSecrets(**values)


def project_secret(session: Session, project_id: int, kind: str) -> str | None:
    """The decrypted project-wide secret of ``kind`` (one of ``PROJECT_KINDS``: the git credential, the push
    hook's secret), None when it is not set. For the code that fetches or verifies, never for a page."""
    if kind not in PROJECT_KINDS:
        raise ValueError(f"not a project secret kind: {kind}")
    secret = session.scalar(
        select(Secret).where(Secret.project_id == project_id, Secret.scope == "", Secret.kind == kind)
    )
    if secret is None:
        return None
    project = session.get(Project, project_id)
    return _open(cipher(), secret, f"project '{project.name if project else project_id}'")


def set_kinds(session: Session, project_id: int) -> frozenset[str]:
    """The kinds of the project-wide secrets that are set (what a project's page may tell), without a key."""
    rows = session.scalars(select(Secret.kind).where(Secret.project_id == project_id, Secret.scope == ""))
    return frozenset(rows)


def _names(session: Session, project_id: int, environment_id: int) -> tuple[str, str]:
    project = session.get(Project, project_id)
    environment = session.get(Environment, environment_id)
    return (project.name if project else str(project_id), environment.name if environment else str(environment_id))
