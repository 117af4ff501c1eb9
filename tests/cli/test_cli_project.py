"""`playdeck project set` changes a project's limits and policies, and they take effect on new runs."""

from __future__ import annotations

import json

import pytest

from playdeck import db
from playdeck.errors import ValidationError
from playdeck.runs.requests import RunRequest, request_run
from tests.cli.cli_support import playdeck


def test_project_set_changes_policies_that_requests_then_obey(embedded):
    result = playdeck(
        "project", "set", "sampleapp", "--run-timeout", "90", "--no-lock-deploys", "--supersede", "--retry-lost", "2"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "run_timeout_seconds": 90,
        "idle_timeout_seconds": 600,
        "lock_deploys": False,
        "supersede_queued": True,
        "retry_lost_runs": 2,
        "allow_free_extra_vars": False,
    }
    with pytest.raises(ValidationError, match="at most 90 s"), db.session_scope() as session:
        request_run(session, RunRequest(project="sampleapp", environment="staging", timeout=91))


def test_project_set_unknown_project_or_bad_value_exits_2(embedded):
    unknown = playdeck("project", "set", "nope", "--supersede")
    assert unknown.returncode == 2 and "project 'nope' does not exist" in unknown.stderr
    bad = playdeck("project", "set", "sampleapp", "--run-timeout", "0")
    assert bad.returncode == 2 and "--run-timeout" in bad.stderr
    too_many = playdeck("project", "set", "sampleapp", "--retry-lost", "6")
    assert too_many.returncode == 2 and "retry_lost_runs: must be a whole number from 0 (off) to 5" in too_many.stderr


def test_project_set_free_extra_vars_lets_a_form_take_undeclared_names(embedded):
    free = RunRequest(project="sampleapp", environment="staging", extra_vars={"greeting": "hi"})
    with pytest.raises(ValidationError, match="'greeting' is not a variable"), db.session_scope() as session:
        request_run(session, free)
    result = playdeck("project", "set", "sampleapp", "--free-extra-vars")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["allow_free_extra_vars"] is True
    with db.session_scope() as session:
        assert request_run(session, free).extra_vars["greeting"] == "hi"
    # The declared fields keep their rules.
    bounded = RunRequest(project="sampleapp", environment="staging", extra_vars={"keep_releases": 21})
    with pytest.raises(ValidationError, match="keep_releases: must be between 1 and 20"), db.session_scope() as session:
        request_run(session, bounded)
