"""A project's registration or edit as sent (a JSON body, the admin form, the CLI's options), shape- and
value-checked into ``ProjectChanges`` before any database session is opened: the inline inventories are
read by ansible-inventory here (a subprocess), never while a transaction waits.

A body names only what it changes (PATCH semantics): a field left out stays; ``environments`` maps a name
to the fields it changes (an environment not there yet is added) or to null (removed); a secret field sets
that secret, or with null deletes it. Secrets are write-only: they go to ``playdeck.secrets``, encrypted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from playdeck import environments as environment_settings
from playdeck.errors import ValidationError
from playdeck.projects import PROJECT_OPTIONS, SOURCE_KINDS, check_options, inline_inventory, validation
from playdeck.secrets import GIT_PASSWORD, GIT_SSH_KEY, VAULT_PASSWORD, WEBHOOK_SECRET
from playdeck.secrets import validate as secret_value

# The secrets a registration may carry; each is stored project-wide (every environment).
SECRET_FIELDS = (GIT_SSH_KEY, GIT_PASSWORD, WEBHOOK_SECRET, VAULT_PASSWORD)
ENVIRONMENT_FIELDS = ("inventory", "inline_inventory", "variables_yaml", "protected", "queue", "known_hosts")
MAX_ENVIRONMENTS = 100
MAX_BRANCH_ENVIRONMENTS = 100


def _description(value: Any, name: str) -> str:
    return validation.text_value(value, name, validation.MAX_DESCRIPTION_CHARS).strip()


def _source_kind(value: Any, name: str) -> str:
    if value not in SOURCE_KINDS:
        raise ValidationError(name, f"must be one of {', '.join(SOURCE_KINDS)}")
    return value


def _nullable(check: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    return lambda value, name: None if value is None else check(value, name)


def _known_hosts(value: Any, name: str) -> str:
    with validation.field_prefix(name):
        return environment_settings.parse_known_hosts("" if value is None else value)


# Each project column a body may set, and its check (value, field) -> stored value. git_url is checked
# with the caller's rights (file:// for admins) in parse_changes.
PROJECT_FIELDS: dict[str, Callable[[Any, str], Any]] = {
    "name": validation.check_name,
    "description": _description,
    "source_kind": _source_kind,
    "git_branch": _nullable(validation.check_branch),
    "git_username": validation.check_git_username,
    "git_cache_seconds": validation.check_cache_seconds,
    "git_submodules": validation.check_flag,
    "git_known_hosts": _known_hosts,
    "playbook": validation.check_relative_path,
    "vault_id": validation.check_vault_id,
}
ALLOWED = (*PROJECT_FIELDS, "git_url", "branch_environments", "branch_pipelines", "environments", *SECRET_FIELDS,
           *sorted(PROJECT_OPTIONS))  # fmt: skip


@dataclass(frozen=True)
class ProjectChanges:
    # Project columns, checked, as they are stored.
    fields: dict[str, Any] = field(default_factory=dict)
    # Environment name -> its changed columns, or None: remove it.
    environments: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    # Secret kind -> the value, or None: delete it. Never logged, never shown.
    secrets: dict[str, str | None] = field(default_factory=dict, repr=False)

    def touches(self, name: str) -> bool:
        return name in self.fields


def parse_changes(body: Mapping[str, Any], *, allow_file_urls: bool) -> ProjectChanges:
    """``body`` checked field by field; ``allow_file_urls`` for admins (a file:// URL reads the server's disk)."""
    unknown = sorted(set(body) - set(ALLOWED))
    if unknown:
        raise ValidationError("body", f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(ALLOWED)}")
    fields: dict[str, Any] = {name: check(body[name], name) for name, check in PROJECT_FIELDS.items() if name in body}
    if "git_url" in body:
        url = body["git_url"]
        fields["git_url"] = None if url is None else validation.check_git_url(url, allow_file=allow_file_urls)
    for mapping in ("branch_environments", "branch_pipelines"):
        if mapping in body:
            fields[f"{mapping}_json"] = _branch_mapping(body[mapping], mapping)
    options = {name: body[name] for name in PROJECT_OPTIONS if name in body}
    fields.update(check_options(options))
    secrets = {kind: _secret(body[kind], kind) for kind in SECRET_FIELDS if kind in body}
    if secrets.get(GIT_SSH_KEY) and secrets.get(GIT_PASSWORD):
        raise ValidationError(GIT_SSH_KEY, "give an SSH key or a password/token for git, not both")
    return ProjectChanges(fields, _environments(body.get("environments", {})), secrets)


def _secret(value: Any, kind: str) -> str | None:
    """The value as it will be stored (a key with its final newline), or None to delete it."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValidationError(kind, "must be text (null deletes it)")
    with validation.field_prefix(kind):
        return secret_value(kind, value)


def _branch_mapping(value: Any, field: str) -> str | None:
    """{branch: environment} (deploy on push) or {branch: pipeline} (start a pipeline on push); the environments
    are checked against the project's in the registry, a pipeline when a push names it."""
    if value is None:
        return None
    target = "environment" if field == "branch_environments" else "pipeline"
    if not isinstance(value, Mapping) or len(value) > MAX_BRANCH_ENVIRONMENTS:
        raise ValidationError(field, f"must be an object of at most {MAX_BRANCH_ENVIRONMENTS} branch: {target} pairs")
    mapping = {}
    for branch, name in value.items():
        checked = validation.check_branch(branch, field)
        mapping[checked] = validation.check_name(name, f"{field}.{checked}")
    return json.dumps(mapping, sort_keys=True) if mapping else None


def _environments(value: Any) -> dict[str, dict[str, Any] | None]:
    if not isinstance(value, Mapping):
        raise ValidationError("environments", "must be an object: environment name -> its settings (null removes it)")
    if len(value) > MAX_ENVIRONMENTS:
        raise ValidationError("environments", f"at most {MAX_ENVIRONMENTS} at once")
    parsed: dict[str, dict[str, Any] | None] = {}
    for name, settings in value.items():
        validation.check_name(name, "environments")
        parsed[name] = None if settings is None else _environment(name, settings)
    return parsed


def _environment(name: str, settings: Any) -> dict[str, Any]:
    where = f"environments.{name}"
    if not isinstance(settings, Mapping):
        raise ValidationError(where, "must be an object of settings, or null to remove the environment")
    unknown = sorted(set(settings) - set(ENVIRONMENT_FIELDS))
    if unknown:
        raise ValidationError(where, f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(ENVIRONMENT_FIELDS)}")
    if settings.get("inventory") is not None and settings.get("inline_inventory") is not None:
        raise ValidationError(f"{where}.inventory", "give an inventory path or an inline inventory, not both")
    checked: dict[str, Any] = {}
    if settings.get("inventory") is not None:
        checked.update(inventory=validation.check_relative_path(settings["inventory"], f"{where}.inventory"))
        checked["inline_inventory"] = None
    if settings.get("inline_inventory") is not None:
        checked.update(
            inline_inventory=inline_inventory.check(settings["inline_inventory"], f"{where}.inline_inventory")
        )
        checked["inventory"] = ""
    if "variables_yaml" in settings:
        checked["variables_yaml"] = validation.check_variables(settings["variables_yaml"], f"{where}.variables_yaml")
    if "protected" in settings:
        checked["protected"] = validation.check_flag(settings["protected"], f"{where}.protected")
    if "queue" in settings:
        with validation.field_prefix(f"{where}.queue"):
            queue = settings["queue"]
            checked["queue"] = None if queue in (None, "") else environment_settings.validate_queue(queue)
    if "known_hosts" in settings:
        checked["known_hosts"] = _known_hosts(settings["known_hosts"], f"{where}.known_hosts")
    return checked
