"""Launch forms: declarations are parsed strictly (every error names the field and key), and a launch's
extra vars are checked against the form (types, bounds, choices, full-match patterns, required, defaults,
undeclared names refused unless the project allows free extra vars)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from playdeck.errors import ValidationError
from playdeck.launch_form import (
    LaunchForm,
    LaunchValueError,
    parse_document,
    parse_fields,
    validate_values,
)

FIELDS: list[dict[str, Any]] = [
    {"name": "keep_releases", "type": "integer", "min": 1, "max": 20, "default": 3},
    {"name": "fail_health", "type": "boolean", "default": False},
    {"name": "branch", "type": "string", "pattern": r"[0-9]+\.[0-9]+", "max": 20},
    {"name": "region", "type": "choice", "choices": ["eu", "us"], "required": True},
    {"name": "features", "type": "multi-choice", "choices": ["a", "b", "c"], "max": 2},
    {"name": "notes", "type": "multiline", "max": 50},
    {"name": "db_password", "type": "secret"},
]


def form(allow_free: bool = False, fields: list[dict[str, Any]] = FIELDS) -> LaunchForm:
    return LaunchForm(parse_fields(fields), "project", allow_free)


def refused(values: dict[str, Any], **kwargs: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        validate_values(form(**kwargs), values)
    assert caught.value.field == "extra_vars"
    return caught.value.message


def test_valid_values_pass_and_defaults_fill_in():
    cleaned = validate_values(form(), {"region": "eu", "branch": "1.0", "features": ["a", "c"], "notes": "x\ny"})
    assert cleaned == {
        "region": "eu", "branch": "1.0", "features": ["a", "c"], "notes": "x\ny",
        "keep_releases": 3, "fail_health": False,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"keep_releases": 21}, "keep_releases: must be between 1 and 20"),
        ({"keep_releases": 0}, "keep_releases: must be between 1 and 20"),
        ({"keep_releases": "5"}, "keep_releases: must be a whole number"),
        ({"keep_releases": True}, "keep_releases: must be a whole number"),
        ({"keep_releases": 2.5}, "keep_releases: must be a whole number"),
        ({"fail_health": "yes"}, "fail_health: must be true or false"),
        ({"branch": "1.0\n"}, "branch: must be a single line"),
        ({"branch": "1.0x"}, r"branch: must match the pattern [0-9]+\.[0-9]+"),
        ({"branch": "x1.0"}, "branch: must match the pattern"),
        ({"branch": "1" * 19 + ".0"}, "branch: must have 0 to 20 characters"),
        ({"region": "mars"}, "region: must be one of eu, us"),
        ({"features": ["a", "z"]}, "features: must be a list of choices from a, b, c"),
        ({"features": "a"}, "features: must be a list of choices"),
        ({"features": ["a", "a"]}, "features: lists a choice twice"),
        ({"features": ["a", "b", "c"]}, "features: must have 0 to 2 choices"),
        ({"notes": "x" * 51}, "notes: must have 0 to 50 characters"),
        ({"notes": 5}, "notes: must be text"),
        ({"db_password": "short"}, "db_password: a secret must be at least 6 characters"),
        ({"db_password": "two\nlines"}, "db_password: must be a single line"),
    ],
)
def test_each_type_refuses_what_it_does_not_declare(values, message):
    assert message in refused({"region": "eu", **values})


def test_a_required_field_must_be_given():
    assert refused({}) == "region: is required"
    assert refused({"region": None}) == "region: is required"


def test_the_pattern_must_match_the_whole_value_not_a_prefix_or_a_line():
    fields = [{"name": "version", "type": "string", "pattern": r"1\.0$"}]
    # With re.match and "$", "1.0\n" passes (Python's $ matches before a final newline); fullmatch does not.
    assert validate_values(form(fields=fields), {"version": "1.0"}) == {"version": "1.0"}
    for bad in ("1.0\n", "1.0 ", "x1.0"):
        with pytest.raises(ValidationError):
            validate_values(form(fields=fields), {"version": bad})
    multiline = [{"name": "text", "type": "multiline", "pattern": "[a-z]+$"}]
    with pytest.raises(ValidationError, match="must match the pattern"):
        validate_values(form(fields=multiline), {"text": "abc\n"})


def test_undeclared_names_are_refused_unless_the_project_allows_free_extra_vars():
    message = refused({"region": "eu", "releases_dir": "/tmp/elsewhere"})
    assert "'releases_dir' is not a variable of this project's launch form" in message
    assert "declared: keep_releases, fail_health" in message
    cleaned = validate_values(form(allow_free=True), {"region": "eu", "releases_dir": "/srv/r"})
    assert cleaned["releases_dir"] == "/srv/r"
    # Free does not mean unchecked: declared fields keep their rules.
    assert "must be between 1 and 20" in refused({"region": "eu", "keep_releases": 99}, allow_free=True)


def test_an_empty_form_takes_no_variables_and_no_form_takes_any():
    with pytest.raises(ValidationError, match="declared: none"):
        validate_values(LaunchForm((), "file"), {"anything": 1})
    assert validate_values(LaunchForm(), {"anything": 1}) == {"anything": 1}


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ("not a list", "fields", "must be a list"),
        ([{"name": "x", "type": "float"}], "fields.x.type", "must be one of string, integer"),
        ([{"name": "bad name", "type": "string"}], "fields[0].name", "not a valid Ansible variable name"),
        ([{"name": "x\n", "type": "string"}], "fields[0].name", "not a valid Ansible variable name"),
        ([{"name": "ansible_user", "type": "string"}], "fields[0].name", "reserved"),
        ([{"name": "x", "type": "string", "colour": "red"}], "fields.x", "unknown key(s) colour"),
        ([{"name": "x", "type": "integer", "min": 5, "max": 1}], "fields.x.max", "must not be below min (5)"),
        ([{"name": "x", "type": "integer", "max": "10"}], "fields.x.max", "must be a whole number"),
        ([{"name": "x", "type": "integer", "max": 10, "default": 11}], "fields.x.default", "must be at most 10"),
        ([{"name": "x", "type": "boolean", "min": 1}], "fields.x.min", "does not apply to a boolean"),
        ([{"name": "x", "type": "choice"}], "fields.x.choices", "must be a list of 1 to"),
        ([{"name": "x", "type": "choice", "choices": ["a", "a"]}], "fields.x.choices", "twice"),
        ([{"name": "x", "type": "string", "choices": ["a"]}], "fields.x.choices", "only a choice"),
        ([{"name": "x", "type": "integer", "pattern": "[0-9]"}], "fields.x.pattern", "only a text field"),
        ([{"name": "x", "type": "string", "pattern": "(unclosed"}], "fields.x.pattern", "not a valid regular"),
        ([{"name": "x", "type": "string", "pattern": "(a+)+b"}], "fields.x.pattern", "exponential time"),
        ([{"name": "x", "type": "string", "pattern": "(a|aa)*b"}], "fields.x.pattern", "exponential time"),
        ([{"name": "x", "type": "string", "pattern": "(x\\w*)+"}], "fields.x.pattern", "exponential time"),
        ([{"name": "x", "type": "string", "pattern": "a" * 201}], "fields.x.pattern", "1 to 200 characters"),
        ([{"name": "x", "type": "string", "pattern": "a+", "max": 5000}], "fields.x.max", "with a pattern"),
        ([{"name": "x", "type": "secret", "default": "hunter22"}], "fields.x.default", "a secret has no default"),
        ([{"name": "x", "type": "secret", "max": 4}], "fields.x.max", "a secret is at least 6 characters"),
        ([{"name": "x", "type": "string"}, {"name": "x", "type": "integer"}], "fields.x", "declared twice"),
        ([{"name": "x", "type": "string", "required": "yes"}], "fields.x.required", "true or false"),
    ],
)
def test_bad_declarations_are_refused_naming_the_field_and_key(fields, field, fragment):
    with pytest.raises(ValidationError) as caught:
        parse_fields(fields)
    assert caught.value.field == field
    assert fragment in caught.value.message


def test_safe_repetitions_are_accepted_and_a_long_value_is_checked_quickly():
    fields = parse_fields([{"name": "slug", "type": "string", "pattern": "[a-z]+(-[a-z]+)*"},
                           {"name": "ip", "type": "string", "pattern": r"\d{1,3}(\.\d{1,3}){3}"}])  # fmt: skip
    # CPU time, not the wall clock: a busy machine's other processes do not count (backtracking would take ages).
    started = time.process_time()
    with pytest.raises(LaunchValueError):
        validate_values(LaunchForm(fields, "project"), {"slug": "a" * 1000 + "!"})
    assert time.process_time() - started < 1
    assert validate_values(LaunchForm(fields, "project"), {"ip": "10.0.0.1"})["ip"] == "10.0.0.1"


def test_a_declaration_document_is_yaml_with_fields_and_no_aliases():
    parsed = parse_document("fields:\n  - {name: n, type: integer, min: 0, default: 0}\n")
    assert parsed[0].to_dict() == {"name": "n", "type": "integer", "default": 0, "min": 0}
    with pytest.raises(ValidationError, match="aliases"):
        parse_document("fields: &x [*x]\n")
    with pytest.raises(ValidationError, match="one key, fields"):
        parse_document("- {name: n, type: integer}\n")
