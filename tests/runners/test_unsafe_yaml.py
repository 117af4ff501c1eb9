"""The extra vars file (runners.unsafe_yaml) read back by Ansible's own loader, as ``-e @file`` reads it:
every value arrives as it was sent, of the same type, and every string that could be a template is
tagged ``!unsafe``. That such a string is never templated is shown end to end, by a real worker, in
tests/runners/test_launch_values.py."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from ansible.parsing.dataloader import DataLoader
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runners import unsafe_yaml

# JSON values as the API hands them over (what json.loads gives), with Jinja's openings mixed into text.
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from("{}%#"))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)


def read_as_ansible(text: str, tmp_path: Path) -> object:
    path = tmp_path / "extravars"
    path.write_text(text)
    return DataLoader().load_from_file(str(path))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(variables=st.dictionaries(TEXT, JSON_VALUES, max_size=5))
def test_every_value_arrives_as_sent(tmp_path: Path, variables: dict) -> None:
    loaded = read_as_ansible(unsafe_yaml.dump(variables), tmp_path)

    # Through JSON: Ansible's tagged str/int subclasses compare as plain values, types included.
    assert json.dumps(loaded, sort_keys=True) == json.dumps(variables, sort_keys=True)


def test_strings_that_look_like_other_types_stay_strings(tmp_path: Path) -> None:
    variables = {"version": "1.10", "empty": "", "yes": "yes", "date": "2024-05-01", "null": "~", "int": "007"}

    loaded = read_as_ansible(unsafe_yaml.dump(variables), tmp_path)

    assert loaded == variables
    assert all(isinstance(value, str) for value in loaded.values())


def test_every_string_that_could_be_a_template_is_tagged_unsafe() -> None:
    template = "{{ lookup('pipe', 'id') }}"
    variables = {template: [template, {template: {"x": template}}], "n": 3}

    text = unsafe_yaml.dump(variables)

    # Parsed as plain YAML (no constructors): each of the 4 template strings carries the tag.
    scalars = [event for event in yaml.parse(text) if isinstance(event, yaml.ScalarEvent)]
    tagged = [event.value for event in scalars if event.tag == unsafe_yaml.UNSAFE_TAG]
    assert tagged.count(template) == 4
    assert all(event.tag == unsafe_yaml.UNSAFE_TAG for event in scalars if "{" in event.value)
