"""The deploy form's extra-variables field: YAML or JSON, a mapping, plain JSON values."""

from __future__ import annotations

import time

import pytest
from werkzeug.datastructures import MultiDict

from playdeck.errors import ValidationError
from playdeck.inputs import MAX_DEPTH
from playdeck.launch_form import LaunchForm
from webui.forms import DeployForm, parse_extra_vars


def test_json_and_yaml_mappings_are_read() -> None:
    assert parse_extra_vars('{"greeting": "hi", "port": 8080}') == {"greeting": "hi", "port": 8080}
    assert parse_extra_vars("greeting: hi\nports: [1, 2]\n") == {"greeting": "hi", "ports": [1, 2]}
    assert parse_extra_vars("  \n") == {}


def test_yaml_dates_become_the_strings_the_user_wrote() -> None:
    assert parse_extra_vars("release_date: 2024-05-01") == {"release_date": "2024-05-01"}


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("- a\n- b\n", "must be a mapping"),
        ("just words", "must be a mapping"),
        ("a: [1, 2", "line 1: a '[' list is not closed"),
        ("a: &x [1]\nb: *x\n", "aliases"),
        # A lone surrogate from a YAML escape: not text any database or log can take.
        ('a: "\\ud800"', "not valid"),
        ("x" * 70_000 + ": 1", "larger than 64 KiB"),
        # Nested too deep, in flow and block style: refused while parsing, before anything is built.
        ("x: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), f"nested more than {MAX_DEPTH} levels"),
        ("x: " + "{a: " * 500 + "1" + "}" * 500, f"nested more than {MAX_DEPTH} levels"),
        ("".join("  " * i + "a:\n" for i in range(500)) + "  " * 500 + "1\n", "larger than 64 KiB"),
        ("".join(" " * i + "a:\n" for i in range(300)) + " " * 300 + "1\n", f"nested more than {MAX_DEPTH} levels"),
    ],
)
def test_bad_extra_vars_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_extra_vars(text)
    assert caught.value.field == "extra_vars"
    assert fragment in caught.value.message


def test_deep_yaml_is_refused_quickly() -> None:
    """Loading 500 nested flow sequences took 13 to 70 s of CPU before the depth was bounded."""
    started = time.process_time()
    for _ in range(10):
        # libyaml's own limit (1,000 levels) may speak first.
        with pytest.raises(ValidationError, match="nested more than|nesting depth"):
            parse_extra_vars("x: " + "[" * 20_000 + "]" * 20_000)
    assert time.process_time() - started < 5


def test_twenty_levels_are_fine() -> None:
    text = "x: " + "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1)
    value = parse_extra_vars(text)["x"]
    for _ in range(MAX_DEPTH - 1):
        (value,) = value
    assert value == 1


def test_form_fields_become_a_run_request() -> None:
    form = DeployForm.from_form(
        MultiDict({"environment": "staging", "version": " 2.0 ", "tags": "app, config,,", "check": "1"})
    )
    request = form.to_request("sampleapp", "alice", LaunchForm())
    assert (request.project, request.environment, request.version) == ("sampleapp", "staging", "2.0")
    assert request.tags == ["app", "config"]
    assert request.check is True
    assert request.requested_by == "alice"
