"""The launch form's HTML inputs (``var.<name>``) read as typed values: the web's side of a launch form. The
values are then checked by ``playdeck.launch_form.validate_values`` like any other launch's."""

from __future__ import annotations

import functools
import re
from typing import Any

from werkzeug.datastructures import MultiDict

from playdeck.errors import collect, raise_all
from playdeck.launch_form import LaunchField, LaunchForm, LaunchValueError


def values_from_form(form: LaunchForm, data: MultiDict[str, Any], prefix: str = "var.") -> dict[str, Any]:
    """Typed values from an HTML form's inputs (``<prefix><name>``): an empty input is left out (the default
    or the playbook's value applies), a number is read as one, an unchecked box is false."""
    values: dict[str, Any] = {}
    checks = (functools.partial(_form_value, field, data, prefix + field.name, values) for field in form.fields)
    raise_all(collect(checks))
    return values


def _form_value(field: LaunchField, data: MultiDict[str, Any], key: str, values: dict[str, Any]) -> None:
    if field.type == "boolean":
        values[field.name] = data.get(key) is not None
    elif field.type == "multi-choice":
        # None chosen: left out, like an empty input.
        if chosen := [item for item in data.getlist(key) if item]:
            values[field.name] = chosen
    elif (raw := data.get(key, "")) != "":
        values[field.name] = _form_integer(field, raw) if field.type == "integer" else raw


def _form_integer(field: LaunchField, raw: str) -> int:
    text = raw.strip()
    if not re.fullmatch(r"-?[0-9]{1,16}", text):
        raise LaunchValueError(field.name, "must be a whole number")
    return int(text)
