"""Relaunch builds a new run from a finished one: the same parameters, or only its failed hosts."""

from __future__ import annotations

import dataclasses

import pytest

from playdeck import db
from playdeck.errors import Conflict, NotFound, ValidationError
from playdeck.runs.queries import get_run
from playdeck.runs.relaunch import relaunch_request
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run, record_host_summaries, request_cancel
from tests.conftest import free_extra_vars

ORIGINAL = RunRequest(
    project="sampleapp",
    environment="staging",
    version="2.1.0",
    extra_vars={"feature": True, "workers": 3},
    limit="web*:!web9",
    tags=["release", "config"],
    check=True,
    requested_by="alice",
    timeout=120,
    idle_timeout=30,
)
# playbook_on_stats as a worker records it: web2 failed, app1 unreachable, web1 and db3 fine.
STATS = {
    "ok": {"web1": 3, "web2": 1, "db3": 2},
    "changed": {"web1": 1},
    "failures": {"web2": 1},
    "dark": {"app1": 1},
}


@pytest.fixture(autouse=True)
def _free_extra_vars(embedded) -> None:
    """ORIGINAL passes variables the sample's launch form does not declare."""
    free_extra_vars()


def queue(request: RunRequest = ORIGINAL) -> int:
    with db.session_scope() as session:
        return request_run(session, request).id


def finish(run_id: int, stats: dict | None = None, state: RunState = RunState.FAILED) -> None:
    """Through the services a worker calls, each step in its own transaction."""
    with db.session_scope() as session:
        assert claim_run(session, run_id, "testhost", 123)
    with db.session_scope() as session:
        record_host_summaries(session, run_id, stats or {})
        assert finish_run(session, run_id, state, rc=2)


def relaunch(run_id: int, hosts: str = "all", by: str = "bob") -> RunRequest:
    with db.session_scope() as session:
        return relaunch_request(session, run_id, hosts, requested_by=by)


def test_relaunch_copies_every_parameter_and_links_the_original(embedded):
    original = queue()
    finish(original, STATS)

    request = relaunch(original)

    # Every parameter of the original, only the requester and the link differ.
    assert request == dataclasses.replace(ORIGINAL, requested_by="bob", relaunch_of=original)
    new = queue(request)
    with db.session_scope() as session:
        run = get_run(session, new)
        assert (run.state, run.relaunch_of_id, run.requested_by) == ("queued", original, "bob")
        assert (run.limit, run.tags, run.extra_vars) == (
            "web*:!web9",
            ["release", "config"],
            {"feature": True, "workers": 3},
        )
        assert (run.check_mode, run.timeout_seconds, run.idle_timeout_seconds) == (True, 120, 30)


def test_project_default_limits_stay_defaults(embedded):
    original = queue(RunRequest(project="sampleapp", environment="production"))
    finish(original, state=RunState.SUCCESSFUL)

    request = relaunch(original)

    assert (request.environment, request.timeout, request.idle_timeout, request.limit) == ("production", None, None, "")


def test_failed_hosts_become_the_limit_sorted(embedded):
    original = queue()
    finish(original, STATS)

    request = relaunch(original, "failed")

    # Failed or unreachable, as an Ansible limit; the original's own limit is replaced.
    assert request.limit == "app1,web2"
    assert (request.relaunch_of, request.version, request.tags) == (original, "2.1.0", ["release", "config"])
    with db.session_scope() as session:
        assert request_run(session, request).limit == "app1,web2"


def test_a_run_without_failed_hosts_cannot_be_relaunched_on_them(embedded):
    original = queue()
    finish(original, {"ok": {"web1": 3, "web2": 3}}, state=RunState.SUCCESSFUL)

    with pytest.raises(Conflict, match=f"^run {original} has no failed or unreachable hosts$"):
        relaunch(original, "failed")
    # All of them, though, it can.
    assert relaunch(original).relaunch_of == original


def test_a_run_that_ended_before_its_recap_has_no_failed_hosts(embedded):
    original = queue()
    with db.session_scope() as session:
        request_cancel(session, original, "carol")

    with pytest.raises(Conflict, match="has no failed or unreachable hosts"):
        relaunch(original, "failed")
    assert relaunch(original).limit == "web*:!web9"


def test_only_a_finished_run_can_be_relaunched(embedded):
    run_id = queue()
    with pytest.raises(Conflict, match=f"^run {run_id} is still queued$"):
        relaunch(run_id)
    with db.session_scope() as session:
        assert claim_run(session, run_id, "testhost", 123)
    with pytest.raises(Conflict, match=f"^run {run_id} is still running$"):
        relaunch(run_id, "failed")


def test_hosts_must_be_all_or_failed(embedded):
    run_id = queue()
    finish(run_id, STATS)
    with pytest.raises(ValidationError) as excinfo:
        relaunch(run_id, "web2")
    assert excinfo.value.field == "hosts" and "all, failed" in excinfo.value.message


def test_unknown_run(embedded):
    with pytest.raises(NotFound, match="run 4242 does not exist"):
        relaunch(4242)
