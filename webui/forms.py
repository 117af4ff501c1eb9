"""The deploy form: what the user typed, kept as typed so a rejected form can be shown again."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from werkzeug.datastructures import MultiDict

from playdeck.errors import ValidationError, collect, raise_all
from playdeck.launch_form import LaunchField, LaunchForm, LaunchValueError, load_yaml, validate_values
from playdeck.runs.requests import MAX_EXTRA_VARS_BYTES, RunRequest, field_errors
from webui.form_values import values_from_form

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
    # A protected environment's deploy is confirmed: the environment's name, sent by the confirmation dialog
    # (deploy_form.js) or the confirmation box the page shows when it was missing (no JavaScript).
    confirm: str = ""

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
            # The hidden input (set by the dialog) or the confirmation box's checkbox: either names the environment.
            confirm=next((value for value in form.getlist("confirm") if value), ""),
        )

    @classmethod
    def from_run(cls, run: dict[str, Any], launch: LaunchForm) -> DeployForm:
        """ "Edit and relaunch": a finished run's parameters, its launch form's values in their own inputs and
        the other variables as YAML. Secret inputs are left empty: they are not kept after a run."""
        secret = set(run.get("secret_var_names", [])) | {f.name for f in launch.fields if f.type == "secret"}
        extra_vars = {name: value for name, value in run["extra_vars"].items() if name not in secret}
        inputs: MultiDict[str, str] = MultiDict()
        for launch_field in launch.fields:
            value = extra_vars.pop(launch_field.name, None)
            if value is None or launch_field.type == "secret":
                continue
            if launch_field.type == "multi-choice" and isinstance(value, list):
                inputs.setlist(INPUT_PREFIX + launch_field.name, [str(item) for item in value])
            elif launch_field.type == "boolean":
                if value:
                    inputs[INPUT_PREFIX + launch_field.name] = "1"
            else:
                inputs[INPUT_PREFIX + launch_field.name] = str(value)
        text = yaml.safe_dump(extra_vars, sort_keys=True, allow_unicode=True) if extra_vars else ""
        return cls(
            environment=run["environment"], version=run["version"], ref=run.get("ref") or "", extra_vars=text,
            limit=run["limit"], tags=", ".join(run["tags"]), check=bool(run["check"]), inputs=inputs,
            submitted=bool(launch.fields),
        )  # fmt: skip

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
        """``requested_by``: the logged-in user (the form has no such field). Refused (ValidationError) with
        every field's error at once: what does not parse, and what the run's own checks say of the rest."""
        errors: list[ValidationError] = []
        extra_vars: dict[str, Any] = {}
        typed: dict[str, Any] = {}
        errors += collect([lambda: extra_vars.update(parse_extra_vars(self.extra_vars))])
        if launch.declared:
            errors += collect([lambda: typed.update(values_from_form(launch, self.inputs, INPUT_PREFIX))])
            errors += [LaunchValueError(name, "has a field of its own: set it there, not in the extra variables")
                       for name in sorted(set(typed) & set(extra_vars))]  # fmt: skip
        request = RunRequest(
            project=project,
            environment=self.environment,
            version=self.version,
            ref=self.ref,
            extra_vars={**extra_vars, **typed},
            limit=self.limit,
            tags=[tag.strip() for tag in self.tags.split(",") if tag.strip()],
            check=self.check,
            requested_by=requested_by,
            freeze_override=self.freeze_override,
        )
        if errors:
            # The rest is checked now too, so the page lists everything to mend, not one error per submit.
            errors += field_errors(request) + collect([lambda: validate_values(launch, request.extra_vars)])
            raise_all(_once(errors))
        return request


def _once(errors: list[ValidationError]) -> list[ValidationError]:
    """One error per launch variable (a number that did not parse is also "required"), no message twice."""
    seen: set[str] = set()
    kept = []
    for error in errors:
        key = f"var:{error.variable}" if isinstance(error, LaunchValueError) else error.message
        if key not in seen:
            seen.add(key)
            kept.append(error)
    return kept


def parse_extra_vars(text: str) -> dict[str, Any]:
    """A YAML or JSON mapping (JSON is YAML) as plain JSON values."""
    if not text.strip():
        return {}
    # Bounded in size and depth before and while parsing, aliases refused (playdeck.inputs).
    value = load_yaml(text, "extra_vars", MAX_EXTRA_VARS_BYTES)
    if not isinstance(value, dict):
        raise ValidationError("extra_vars", "must be a mapping of variable names to values")
    return value


def run_version_label(run: dict[str, Any]) -> str:
    """What a run ships, for a confirmation: "1.4.2", "main @ 3f2a9c1d0e4b", or the project's default."""
    commit = (run.get("commit") or "")[:12]
    source = " @ ".join(part for part in (run.get("ref") or "", commit) if part)
    return ", ".join(part for part in (run.get("version") or "", source) if part) or "(the playbook's default)"
