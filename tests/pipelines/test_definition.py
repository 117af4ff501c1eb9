"""A pipeline's steps as saved: edges made explicit; an unknown step, environment or kind and a cycle refused
with the field named."""

from __future__ import annotations

import pytest

from playdeck import db
from playdeck.errors import Conflict, ValidationError
from playdeck.pipelines import service
from tests.conftest import configure


@pytest.fixture
def sample(monkeypatch, tmp_path):
    configure(monkeypatch, data_dir=str(tmp_path / "data"))


def create(steps, name: str = "release"):
    with db.session_scope() as session:
        return service.describe(
            session, service.create(session, {"project": "sampleapp", "name": name, "steps": steps}, "admin")
        )


def refused(steps) -> ValidationError:
    with pytest.raises(ValidationError) as error:
        create(steps)
    return error.value


def test_edges_default_to_the_next_step_and_end_after_the_last(sample):
    saved = create([{"name": "a", "kind": "deploy", "environment": "staging"},
                    {"name": "b", "kind": "deploy", "environment": "production"}])  # fmt: skip
    assert [(s["on_success"], s["on_failure"]) for s in saved["steps"]] == [("b", None), (None, None)]
    with pytest.raises(Conflict):
        create([{"name": "a", "kind": "approval"}])


@pytest.mark.parametrize(
    ("steps", "field", "words"),
    [
        ([{"name": "a", "kind": "deploy", "environment": "moon"}], "steps[0].environment", "no environment 'moon'"),
        (
            [{"name": "a", "kind": "deploy", "environment": "staging", "on_success": "zz"}],
            "steps[0].on_success",
            "'zz'",
        ),
        ([{"name": "a", "kind": "launch"}], "steps[0].kind", "must be one of"),
        ([{"name": "A b", "kind": "approval"}], "steps[0].name", "lower-case"),
        ([{"name": "a", "kind": "approval"}, {"name": "a", "kind": "approval"}], "steps[1].name", "two steps"),
        (
            [{"name": "a", "kind": "playbook", "environment": "staging", "playbook": "../../etc/passwd"}],
            "steps[0].playbook",
            "inside",
        ),
        ([{"name": "a", "kind": "promote", "environment": "production", "from": "a"}], "steps[0].from", "earlier"),
        ([{"name": "a", "kind": "approval", "on_failure": "a"}], "steps[0].on_failure", "cycle"),
        (
            [{"name": "a", "kind": "approval"}, {"name": "b", "kind": "approval", "on_success": "a"}],
            "steps[1].on_success",
            "cycle",
        ),
        ([{"name": "a", "kind": "approval", "url": "x"}], "steps[0].url", "not a field"),
        ([], "steps", "1 to"),
    ],
)
def test_bad_steps_are_refused_naming_the_field(sample, steps, field, words):
    error = refused(steps)
    assert error.field == field and words in str(error)
