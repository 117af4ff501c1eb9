"""A refused form's errors as a page shows them: every one listed in plain words at the top ("Extra variables:
line 2: a mapping needs 'name: value'"), and each beside its own field."""

from __future__ import annotations

from dataclasses import dataclass, field

from playdeck.errors import PlaydeckError, ValidationError, each_error
from playdeck.launch_form import LaunchValueError

# What the deploy form calls its fields (the API's names are the request's).
LABELS = {
    "project": "Project",
    "environment": "Environment",
    "version": "Version",
    "ref": "Branch, tag or commit",
    "extra_vars": "Extra variables",
    "limit": "Limit",
    "tags": "Tags",
    "check": "Check mode",
    "confirm": "Confirmation",
    "freeze_override": "Override reason",
}


@dataclass
class FormErrors:
    # (label, message) in order, for the list at the top of the form.
    listed: list[tuple[str, str]] = field(default_factory=list)
    # field -> its messages; a launch form's variable -> its message.
    by_field: dict[str, list[str]] = field(default_factory=dict)
    by_variable: dict[str, str] = field(default_factory=dict)

    @property
    def first_field(self) -> str | None:
        return next(iter(self.by_field), None)


def form_errors(error: PlaydeckError, launch_titles: dict[str, str], default_field: str) -> FormErrors:
    """``launch_titles``: a launch form's variable names -> their inputs' titles. An error that names no field
    (a NotFound) is ``default_field``'s."""
    found = FormErrors()
    errors = each_error(error) if isinstance(error, ValidationError) else [error]
    for each in errors:
        if isinstance(each, LaunchValueError) and each.variable in launch_titles:
            found.by_variable.setdefault(each.variable, each.field_message)
            found.listed.append((launch_titles[each.variable], each.field_message))
            continue
        name = each.field if isinstance(each, ValidationError) else default_field
        message = each.field_message if isinstance(each, ValidationError) else each.message
        found.by_field.setdefault(name, []).append(message)
        found.listed.append((LABELS.get(name, name), message))
    return found
