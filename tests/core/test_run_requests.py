"""Run requests are validated before anything is stored; each bad value gets a message naming it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from playdeck import db
from playdeck.errors import NotFound, ValidationError
from playdeck.models import Run
from playdeck.runs.queries import get_run, list_runs
from playdeck.runs.requests import RunRequest, request_run
from tests.conftest import free_extra_vars
from webui.params import parse_filters


def _request(**overrides) -> RunRequest:
    values = {"project": "sampleapp", "environment": "staging"} | overrides
    return RunRequest(**values)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"version": "1.0; rm -rf /"}, "version"),
        ({"version": "x" * 200}, "version"),
        # A trailing newline: "$" matches before it, fullmatch does not.
        ({"version": "1.0\n"}, "version"),
        ({"extra_vars": {"name\n": 1}}, "extra_vars"),
        ({"limit": "web1\n"}, "limit"),
        ({"tags": ["app\n"]}, "tags"),
        ({"requested_by": "alice\n"}, "requested_by"),
        ({"extra_vars": "not a mapping"}, "extra_vars"),
        ({"extra_vars": {"bad name": 1}}, "extra_vars"),
        ({"extra_vars": {"playdeck_version": "9"}}, "extra_vars"),
        ({"extra_vars": {"big": "x" * 70_000}}, "extra_vars"),
        ({"limit": "web1;reboot"}, "limit"),
        ({"limit": "$(id)"}, "limit"),
        ({"limit": "web1 web2"}, "limit"),
        # Ansible would read the file and print its lines as unmatched host patterns.
        ({"limit": "@deploy.yml"}, "limit"),
        ({"limit": "web1,@hosts.txt"}, "limit"),
        # "$" lets a trailing newline through; every validator matches the whole value.
        ({"version": "1.0\n"}, "version"),
        ({"limit": "web1\n"}, "limit"),
        ({"tags": ["release\n"]}, "tags"),
        ({"extra_vars": {"name\n": 1}}, "extra_vars"),
        ({"requested_by": "alice\n"}, "requested_by"),
        ({"tags": "deploy"}, "tags"),
        ({"tags": ["ok", "`id`"]}, "tags"),
        ({"check": "yes"}, "check"),
        ({"requested_by": "<script>"}, "requested_by"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_stored(embedded, overrides, field):
    with pytest.raises(ValidationError) as excinfo, db.session_scope() as session:
        request_run(session, _request(**overrides))
    assert excinfo.value.field == field
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"project": "nope"}, "project 'nope' does not exist"), ({"environment": "qa"}, "no environment 'qa'")],
)
def test_unknown_project_or_environment(embedded, overrides, message):
    with pytest.raises(NotFound, match=message), db.session_scope() as session:
        request_run(session, _request(**overrides))


def test_a_valid_request_is_queued_with_its_parameters(embedded):
    free_extra_vars()
    request = _request(
        version="2.1.0", extra_vars={"feature": True}, limit="web1:web2", tags=["release"], check=True,
        requested_by="alice",
    )  # fmt: skip
    with db.session_scope() as session:
        run_id = request_run(session, request).id
    with db.session_scope() as session:
        run = get_run(session, run_id)
        assert (run.state, run.version, run.limit, run.tags, run.check_mode, run.requested_by) == (
            "queued", "2.1.0", "web1:web2", ["release"], True, "alice",
        )  # fmt: skip
        assert run.extra_vars == {"feature": True} and run.queue == "deploy"


def test_list_runs_filters_and_pages(embedded):
    with db.session_scope() as session:
        for i in range(5):
            request_run(session, _request(environment="production" if i % 2 else "staging"))
    with db.session_scope() as session:
        page1 = list_runs(session, parse_filters({"environment": "staging"}), page=1, per_page=2)
        page2 = list_runs(session, parse_filters({"environment": "staging"}), page=2, per_page=2)
    listed = [json.loads(run) for run in page1.runs + page2.runs]
    assert [run["environment"] for run in listed] == ["staging"] * 3
    assert page1.has_next and not page2.has_next
    assert listed[0]["id"] > listed[1]["id"] > listed[2]["id"]  # newest first
    with pytest.raises(ValidationError, match="state"):
        parse_filters({"state": "exploded"})
