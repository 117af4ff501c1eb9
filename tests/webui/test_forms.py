"""The deploy form's extra-variables field: YAML or JSON, a mapping, plain JSON values."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from playdeck.errors import ValidationError
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
        ("a: [1, 2", "not valid YAML or JSON"),
        ("a: &x [1]\nb: *x\n", "aliases"),
    ],
)
def test_bad_extra_vars_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_extra_vars(text)
    assert caught.value.field == "extra_vars"
    assert fragment in caught.value.message


def test_form_fields_become_a_run_request() -> None:
    form = DeployForm.from_form(
        MultiDict({"environment": "staging", "version": " 2.0 ", "tags": "app, config,,", "check": "1"})
    )
    request = form.to_request("sampleapp", "alice", LaunchForm())
    assert (request.project, request.environment, request.version) == ("sampleapp", "staging", "2.0")
    assert request.tags == ["app", "config"]
    assert request.check is True
    assert request.requested_by == "alice"
