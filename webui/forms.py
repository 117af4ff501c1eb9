"""The deploy form: what the user typed, kept as typed so a rejected form can be shown again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml
from werkzeug.datastructures import MultiDict

from playdeck.errors import ValidationError
from playdeck.runs import RunRequest


@dataclass
class DeployForm:
    environment: str = ""
    version: str = ""
    extra_vars: str = ""
    limit: str = ""
    tags: str = ""
    check: bool = False

    @classmethod
    def from_form(cls, form: MultiDict[str, str]) -> DeployForm:
        return cls(
            environment=form.get("environment", ""),
            version=form.get("version", "").strip(),
            extra_vars=form.get("extra_vars", ""),
            limit=form.get("limit", "").strip(),
            tags=form.get("tags", ""),
            check=form.get("check") is not None,
        )

    def to_request(self, project: str, requested_by: str) -> RunRequest:
        """``requested_by``: the logged-in user (the form has no such field)."""
        return RunRequest(
            project=project,
            environment=self.environment,
            version=self.version,
            extra_vars=parse_extra_vars(self.extra_vars),
            limit=self.limit,
            tags=[tag.strip() for tag in self.tags.split(",") if tag.strip()],
            check=self.check,
            requested_by=requested_by,
        )


def parse_extra_vars(text: str) -> dict[str, Any]:
    """A YAML or JSON mapping (JSON is YAML) as plain JSON values."""
    if not text.strip():
        return {}
    try:
        # Aliases are refused before loading: a few nested ones expand exponentially once the
        # value is serialised ("billion laughs"), and nobody needs them in extra vars.
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise ValidationError("extra_vars", "YAML aliases (*name) are not allowed")
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError("extra_vars", f"is not valid YAML or JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValidationError("extra_vars", "must be a mapping of variable names to values")
    # YAML reads dates and times as objects; Ansible gets them as the strings the user wrote.
    return json.loads(json.dumps(value, default=str))
