"""The deploy form: what the user typed, kept as typed so a rejected form can be shown again."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from playdeck.errors import ValidationError
from playdeck.launch_form import LaunchField, LaunchForm, LaunchValueError, load_yaml, values_from_form
from playdeck.runs.requests import MAX_EXTRA_VARS_BYTES, RunRequest

# The launch form's inputs are named var.<variable>: apart from the form's own fields, whatever the names.
INPUT_PREFIX = "var."


@dataclass
class DeployForm:
    environment: str = ""
    version: str = ""
    # Git projects: the branch, tag or commit to deploy ("": the project's branch).
    ref: str = ""
    # Free extra vars (YAML or JSON), where the project takes them.
    extra_vars: str = ""
    limit: str = ""
    tags: str = ""
    check: bool = False
    # A release manager's reason for deploying inside a freeze window ("": none).
    freeze_override: str = ""
    # The launch form's inputs as typed (``var.<name>``), to show a refused form again; a secret's is
    # kept for the request only and never drawn back into the page.
    inputs: MultiDict[str, str] = field(default_factory=MultiDict)
    submitted: bool = False

    @classmethod
    def from_form(cls, form: MultiDict[str, str]) -> DeployForm:
        return cls(
            environment=form.get("environment", ""),
            version=form.get("version", "").strip(),
            ref=form.get("ref", "").strip(),
            extra_vars=form.get("extra_vars", ""),
            limit=form.get("limit", "").strip(),
            tags=form.get("tags", ""),
            check=form.get("check") is not None,
            freeze_override=form.get("freeze_override", "").strip(),
            inputs=MultiDict([(key, value) for key, value in form.items(multi=True) if key.startswith(INPUT_PREFIX)]),
            submitted=True,
        )

    def shown(self, launch_field: LaunchField) -> Any:
        """What an input shows: as typed after a refused submit, else the field's default."""
        key = INPUT_PREFIX + launch_field.name
        if launch_field.type == "secret":
            return ""
        if launch_field.type == "multi-choice":
            return self.inputs.getlist(key) if self.submitted else (launch_field.default or [])
        if launch_field.type == "boolean":
            return key in self.inputs if self.submitted else bool(launch_field.default)
        if self.submitted:
            return self.inputs.get(key, "")
        return "" if launch_field.default is None else str(launch_field.default)

    def to_request(self, project: str, requested_by: str, launch: LaunchForm) -> RunRequest:
        """``requested_by``: the logged-in user (the form has no such field)."""
        extra_vars = parse_extra_vars(self.extra_vars)
        if launch.declared:
            typed = values_from_form(launch, self.inputs, INPUT_PREFIX)
            twice = sorted(set(typed) & set(extra_vars))
            if twice:
                raise LaunchValueError(twice[0], "has a field of its own: set it there, not in the extra variables")
            extra_vars = {**extra_vars, **typed}
        return RunRequest(
            project=project,
            environment=self.environment,
            version=self.version,
            ref=self.ref,
            extra_vars=extra_vars,
            limit=self.limit,
            tags=[tag.strip() for tag in self.tags.split(",") if tag.strip()],
            check=self.check,
            requested_by=requested_by,
            freeze_override=self.freeze_override,
        )


def parse_extra_vars(text: str) -> dict[str, Any]:
    """A YAML or JSON mapping (JSON is YAML) as plain JSON values."""
    if not text.strip():
        return {}
    # Bounded in size and depth before and while parsing, aliases refused (playdeck.inputs).
    value = load_yaml(text, "extra_vars", MAX_EXTRA_VARS_BYTES)
    if not isinstance(value, dict):
        raise ValidationError("extra_vars", "must be a mapping of variable names to values")
    return value
