"""Launch forms (AWX calls them surveys): the variables a project lets a launcher set, each with a type and
bounds, and the validation of a launch's extra vars against them.

Extra vars outrank every other variable in Ansible, so a launcher who may set any name can replace a
playbook's own (``releases_dir: /elsewhere``). A project that declares a form takes only the names it
declares (unless its admins allow free extra vars as well); each value is checked against its field's
type, bounds, choices and pattern. Nothing here touches the DB: ``playdeck.launch_inputs`` finds a
project's form and keeps secret values out of the run record.

Patterns are matched in full (``re.fullmatch``: ``$`` would accept a trailing newline). Python's ``re`` has
no time limit, so a pattern's text is bounded, a value matched against one is bounded, and a pattern whose
matching can take time exponential in the value's length is refused when it is declared
(``playdeck.pattern_safety``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from playdeck import inputs
from playdeck.errors import PlaydeckError, ValidationError, collect, raise_all
from playdeck.masking import MIN_FORM_CHARS, REDACTED
from playdeck.pattern_safety import exponential_shape
from playdeck.var_names import check_var_name

FIELD_TYPES = ("string", "integer", "boolean", "choice", "multi-choice", "multiline", "secret")
TEXT_TYPES = frozenset({"string", "multiline", "secret"})
CHOICE_TYPES = frozenset({"choice", "multi-choice"})
FIELD_KEYS = ("name", "label", "type", "required", "default", "help", "pattern", "min", "max", "choices")
MAX_FIELDS = 50
MAX_CHOICES = 100
MAX_CHOICE_CHARS = 256
MAX_LABEL_CHARS = 200
MAX_HELP_CHARS = 1000
MAX_PATTERN_CHARS = 200
# The longest value of each text type; a field may ask for less (``max``), never more.
MAX_TEXT_CHARS = {"string": 1024, "secret": 4096, "multiline": 16384}
# A value matched against a pattern is at most this long: bounds what any accepted pattern can cost.
MAX_PATTERN_VALUE_CHARS = 1024
# Whole numbers Ansible, JSON and both databases agree on.
MAX_INTEGER = 2**53
# What a declaration document may weigh (the admin's textarea, the file beside the playbook).
MAX_DOCUMENT_BYTES = 64 * 1024


class LaunchValueError(ValidationError):
    """A launch value refused by the form: the API's ``field`` is ``extra_vars``, the message starts with the
    variable's name, and ``variable`` lets a form show the error on that variable's own input."""

    def __init__(self, variable: str, message: str) -> None:
        PlaydeckError.__init__(self, f"{variable}: {message}")
        self.field = "extra_vars"
        self.field_message = message
        self.variable = variable


@dataclass(frozen=True)
class LaunchField:
    name: str
    type: str
    label: str = ""
    required: bool = False
    # None: no default (the playbook's own value applies when the launcher leaves the field out).
    default: Any = None
    help: str = ""
    pattern: str | None = None
    # Integers: the value's bounds; text: its length; multi-choice: how many are chosen.
    min: int | None = None
    max: int | None = None
    choices: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return self.label or self.name

    def to_dict(self) -> dict[str, Any]:
        """As declared, without the keys left at their defaults (``default: false`` and ``min: 0`` are kept)."""
        shown: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.label:
            shown["label"] = self.label
        if self.required:
            shown["required"] = True
        optional = {"default": self.default, "help": self.help or None, "pattern": self.pattern, "min": self.min,
                    "max": self.max, "choices": list(self.choices) or None}  # fmt: skip
        shown.update({key: value for key, value in optional.items() if value is not None})
        return shown


@dataclass(frozen=True)
class LaunchForm:
    """A project's form as it applies to a launch; ``source`` says where it was declared."""

    fields: tuple[LaunchField, ...] = ()
    # "project" (the admins, in the DB), "file" (beside the playbook) or "none" (nothing declared).
    source: str = "none"
    allow_free_extra_vars: bool = False
    # The file beside the playbook that is (or would be) read, relative to the playbook directory.
    file: str = ""

    @property
    def declared(self) -> bool:
        return self.source != "none"

    @property
    def names(self) -> list[str]:
        return [field.name for field in self.fields]

    @property
    def secret_names(self) -> frozenset[str]:
        return frozenset(field.name for field in self.fields if field.type == "secret")

    def get(self, name: str) -> LaunchField | None:
        return next((field for field in self.fields if field.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "file": self.file,
            "allow_free_extra_vars": self.allow_free_extra_vars,
            "fields": [field.to_dict() for field in self.fields],
        }


# --- declarations -----------------------------------------------------------------------------------------


def load_yaml(text: str, field: str, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """YAML (or JSON, which is YAML) as plain JSON values, bounded in size and depth, aliases refused
    (``playdeck.inputs.load_yaml``)."""
    value = inputs.load_yaml(text, field, max_bytes)
    # YAML reads dates and times as objects; they are kept as the strings that were written.
    return json.loads(json.dumps(value, default=str))


def parse_document(text: str, field: str = "launch_form") -> tuple[LaunchField, ...]:
    """A declaration written as YAML or JSON: ``fields:`` and a list of fields (the file beside a playbook,
    the admin page's textarea)."""
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise ValidationError(field, f"larger than {MAX_DOCUMENT_BYTES} bytes")
    document = load_yaml(text, field)
    if not isinstance(document, dict) or set(document) != {"fields"}:
        raise ValidationError(field, "must be a mapping with one key, fields: a list of fields")
    return parse_fields(document["fields"])


def parse_fields(raw: Any) -> tuple[LaunchField, ...]:
    """Fields as declared (a list of mappings), checked strictly: every error names the field and the key."""
    if not isinstance(raw, list) or len(raw) > MAX_FIELDS:
        raise ValidationError("fields", f"must be a list of at most {MAX_FIELDS} fields")
    parsed: list[LaunchField] = []
    for index, item in enumerate(raw):
        field = _parse_field(index, item)
        if any(seen.name == field.name for seen in parsed):
            raise ValidationError(f"fields.{field.name}", "is declared twice")
        parsed.append(field)
    return tuple(parsed)


def _parse_field(index: int, item: Any) -> LaunchField:
    if not isinstance(item, dict):
        raise ValidationError(f"fields[{index}]", "must be a mapping (name, type, ...)")
    name = check_var_name(item.get("name"), f"fields[{index}].name")
    where = f"fields.{name}"
    unknown = sorted(set(item) - set(FIELD_KEYS))
    if unknown:
        raise ValidationError(where, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(FIELD_KEYS)}")
    kind = item.get("type")
    if kind not in FIELD_TYPES:
        raise ValidationError(f"{where}.type", f"must be one of {', '.join(FIELD_TYPES)}")
    field = LaunchField(
        name=name,
        type=kind,
        label=_text(item, "label", where, MAX_LABEL_CHARS),
        required=_flag(item, "required", where),
        help=_text(item, "help", where, MAX_HELP_CHARS),
        pattern=_pattern(item, where, kind),
        min=_bound(item, "min", where, kind),
        max=_bound(item, "max", where, kind),
        choices=_choices(item, where, kind),
    )
    _check_bounds(field, where)
    default = item.get("default")
    if default is not None:
        if kind == "secret":
            raise ValidationError(f"{where}.default", "a secret has no default: a declaration is not secret")
        try:
            default = check_value(field, default)
        except LaunchValueError as exc:
            raise ValidationError(f"{where}.default", exc.message.removeprefix(f"{name}: ")) from None
    return LaunchField(**{**field.__dict__, "default": default})


def _text(item: dict[str, Any], key: str, where: str, limit: int) -> str:
    value = item.get(key, "")
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationError(f"{where}.{key}", f"must be text of at most {limit} characters")
    return value


def _flag(item: dict[str, Any], key: str, where: str) -> bool:
    value = item.get(key, False)
    if not isinstance(value, bool):
        raise ValidationError(f"{where}.{key}", "must be true or false")
    return value


def _bound(item: dict[str, Any], key: str, where: str, kind: str) -> int | None:
    value = item.get(key)
    if value is None:
        return None
    if kind in ("boolean", "choice"):
        raise ValidationError(f"{where}.{key}", f"does not apply to a {kind} field")
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_INTEGER:
        raise ValidationError(f"{where}.{key}", "must be a whole number")
    if kind != "integer" and value < 0:
        raise ValidationError(f"{where}.{key}", "a length or a count cannot be negative")
    return value


def _check_bounds(field: LaunchField, where: str) -> None:
    if field.min is not None and field.max is not None and field.min > field.max:
        raise ValidationError(f"{where}.max", f"must not be below min ({field.min})")
    if field.type in TEXT_TYPES:
        ceiling = MAX_PATTERN_VALUE_CHARS if field.pattern else MAX_TEXT_CHARS[field.type]
        if field.max is not None and field.max > ceiling:
            why = " with a pattern" if field.pattern else ""
            raise ValidationError(f"{where}.max", f"a {field.type} field{why} is at most {ceiling} characters")
    if field.type == "secret" and field.max is not None and field.max < MIN_FORM_CHARS:
        raise ValidationError(f"{where}.max", f"a secret is at least {MIN_FORM_CHARS} characters (to be masked)")
    if field.type == "multi-choice" and field.max is not None and field.max > len(field.choices):
        raise ValidationError(f"{where}.max", f"more than the {len(field.choices)} choices")


def _choices(item: dict[str, Any], where: str, kind: str) -> tuple[str, ...]:
    raw = item.get("choices")
    if kind not in CHOICE_TYPES:
        if raw is not None:
            raise ValidationError(f"{where}.choices", f"only a choice or multi-choice field has choices, not {kind}")
        return ()
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_CHOICES:
        raise ValidationError(f"{where}.choices", f"must be a list of 1 to {MAX_CHOICES} choices")
    for choice in raw:
        if not isinstance(choice, str) or not 1 <= len(choice) <= MAX_CHOICE_CHARS or not choice.isprintable():
            raise ValidationError(
                f"{where}.choices", f"each choice is text of 1 to {MAX_CHOICE_CHARS} printable characters"
            )
    if len(set(raw)) != len(raw):
        raise ValidationError(f"{where}.choices", "lists a choice twice")
    return tuple(raw)


def _pattern(item: dict[str, Any], where: str, kind: str) -> str | None:
    pattern = item.get("pattern")
    if pattern is None:
        return None
    if kind not in TEXT_TYPES:
        raise ValidationError(
            f"{where}.pattern", f"only a text field (string, multiline, secret) has a pattern, not {kind}"
        )
    if not isinstance(pattern, str) or not 1 <= len(pattern) <= MAX_PATTERN_CHARS:
        raise ValidationError(
            f"{where}.pattern", f"must be a regular expression of 1 to {MAX_PATTERN_CHARS} characters"
        )
    try:
        costly = exponential_shape(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        raise ValidationError(f"{where}.pattern", f"is not a valid regular expression: {exc}") from None
    if costly:
        raise ValidationError(
            f"{where}.pattern",
            "repeats a part that itself repeats or has alternatives (like (a+)+ or (a|ab)*) with nothing to tell "
            "the repetitions apart; matching it can take exponential time: write it without the nesting, or "
            "start or end the repeated part with a character its inner repeats cannot match, as in [a-z]+(-[a-z]+)*",
        )
    return pattern


# --- values -----------------------------------------------------------------------------------------------


def validate_values(form: LaunchForm, extra_vars: Mapping[str, Any]) -> dict[str, Any]:
    """The extra vars a launch may pass: each declared field's value checked (its default when left out),
    every undeclared name refused unless the project allows free extra vars. A project that declares
    nothing takes its extra vars as they are (their names are checked by ``runs``)."""
    if not form.declared:
        return dict(extra_vars)
    undeclared = sorted(name for name in extra_vars if form.get(name) is None)
    errors: list[ValidationError] = []
    if undeclared and not form.allow_free_extra_vars:
        declared = ", ".join(form.names) or "none"
        errors += [ValidationError("extra_vars", f"'{name}' is not a variable of this project's launch form "
                                   f"(declared: {declared})") for name in undeclared]  # fmt: skip
    cleaned = {name: extra_vars[name] for name in undeclared}
    # Every field is checked, so a form shows all its refused inputs at once.
    errors += collect(functools.partial(_field_value, field, extra_vars, cleaned) for field in form.fields)
    raise_all(errors)
    return cleaned


def _field_value(field: LaunchField, extra_vars: Mapping[str, Any], cleaned: dict[str, Any]) -> None:
    value = extra_vars.get(field.name)
    if value is None:
        if field.default is not None:
            cleaned[field.name] = field.default
        elif field.required:
            raise LaunchValueError(field.name, "is required")
        return
    cleaned[field.name] = check_value(field, value)


def check_value(field: LaunchField, value: Any) -> Any:
    """``value`` if ``field`` accepts it, else LaunchValueError; the message never quotes the value."""
    if field.type == "integer":
        return _check_integer(field, value)
    if field.type == "boolean":
        if not isinstance(value, bool):
            raise LaunchValueError(field.name, "must be true or false")
        return value
    if field.type in CHOICE_TYPES:
        return _check_choices(field, value)
    return _check_text(field, value)


def _check_integer(field: LaunchField, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_INTEGER:
        raise LaunchValueError(field.name, "must be a whole number")
    low, high = field.min, field.max
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            raise LaunchValueError(field.name, f"must be between {low} and {high}")
        raise LaunchValueError(field.name, f"must be at least {low}" if low is not None else f"must be at most {high}")
    return value


def _check_choices(field: LaunchField, value: Any) -> Any:
    offered = ", ".join(field.choices)
    if field.type == "choice":
        if not isinstance(value, str) or value not in field.choices:
            raise LaunchValueError(field.name, f"must be one of {offered}")
        return value
    if not isinstance(value, list) or not all(isinstance(item, str) and item in field.choices for item in value):
        raise LaunchValueError(field.name, f"must be a list of choices from {offered}")
    if len(set(value)) != len(value):
        raise LaunchValueError(field.name, "lists a choice twice")
    if field.required and not value:
        raise LaunchValueError(field.name, "is required: choose at least one")
    _check_count(field.name, len(value), field.min, field.max, "choices")
    return value


def _check_count(name: str, count: int, low: int | None, high: int | None, unit: str) -> None:
    low = low or 0
    if count < low or (high is not None and count > high):
        span = f"{low} to {high}" if high is not None else f"at least {low}"
        raise LaunchValueError(name, f"must have {span} {unit}")


def _check_text(field: LaunchField, value: Any) -> str:
    if not isinstance(value, str):
        raise LaunchValueError(field.name, "must be text")
    if "\x00" in value:
        raise LaunchValueError(field.name, "must not contain NUL characters")
    if field.type != "multiline" and ("\n" in value or "\r" in value):
        raise LaunchValueError(field.name, "must be a single line")
    if field.required and not value:
        raise LaunchValueError(field.name, "is required")
    if field.type == "secret" and len(value) < MIN_FORM_CHARS:
        # A shorter one could not be masked in the run's log without masking ordinary words too.
        raise LaunchValueError(field.name, f"a secret must be at least {MIN_FORM_CHARS} characters")
    if field.type == "secret" and value == REDACTED:
        raise LaunchValueError(field.name, "enter the secret itself, not its mask")
    ceiling = MAX_PATTERN_VALUE_CHARS if field.pattern else MAX_TEXT_CHARS[field.type]
    high = ceiling if field.max is None else min(field.max, ceiling)
    _check_count(field.name, len(value), field.min, high, "characters")
    if field.pattern and not re.fullmatch(field.pattern, value):
        raise LaunchValueError(field.name, f"must match the pattern {field.pattern}")
    return value
