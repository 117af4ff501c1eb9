"""webui.form_values: the launch form's HTML inputs read as typed values (then checked like any launch's)."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from playdeck.launch_form import LaunchValueError
from tests.core.test_launch_form import form
from webui.form_values import values_from_form


def test_html_form_inputs_become_typed_values():
    data = MultiDict([("var.keep_releases", " 7 "), ("var.fail_health", "1"), ("var.features", "a"),
                      ("var.features", "b"), ("var.region", ""), ("var.notes", "")])  # fmt: skip
    assert values_from_form(form(), data) == {"keep_releases": 7, "fail_health": True, "features": ["a", "b"]}
    assert values_from_form(form(), MultiDict())["fail_health"] is False
    with pytest.raises(LaunchValueError) as caught:
        values_from_form(form(), MultiDict([("var.keep_releases", "seven")]))
    assert caught.value.variable == "keep_releases" and caught.value.field == "extra_vars"
