"""Every mutation leaves an audit event in its own transaction — who, from where, what — and a change
that rolls back leaves none. (Through the web, with the caller's address: tests/webui/test_audit_log.py.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from playdeck import audit, db
from playdeck.auth import credentials, users
from playdeck.dns import editors, records, zones
from playdeck.errors import Conflict, Unauthenticated
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.transitions import request_cancel
from playdeck.serializers import iso
from tests.conftest import free_extra_vars


@pytest.fixture(params=["embedded", "production"])
def services(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


Events = Callable[..., list[tuple[str, str, str, str, dict]]]


@pytest.fixture
def events(request: pytest.FixtureRequest) -> Events:
    """The events this test makes, oldest first (setting the services up audits their admin user)."""
    for name in ("services", "embedded"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
    with db.session_scope() as session:
        found, _ = audit.list_events(session, audit.AuditFilters(), limit=1)
    start = found[0].id if found else 0

    def made(**filters) -> list[tuple[str, str, str, str, dict]]:
        with db.session_scope() as session:
            found, _ = audit.list_events(session, audit.AuditFilters(**filters), limit=200)
            return [(e.actor, e.address, e.action, e.target, e.details) for e in reversed(found) if e.id > start]

    return made


def test_a_deploy_and_its_cancel_are_audited_as_the_caller(services, events: Events):
    free_extra_vars()
    with audit.acting_as("alice", "192.0.2.7"), db.session_scope() as session:
        run = request_run(
            session,
            RunRequest("sampleapp", "staging", extra_vars={"db_password": "hunter2"}, requested_by="alice"),
        )
        run_id = run.id
    with audit.acting_as("bob", "192.0.2.8"), db.session_scope() as session:
        request_cancel(session, run_id, "bob")
    requested, canceled = events(target_type="run")
    assert requested[:4] == ("alice", "192.0.2.7", "run.request", str(run_id))
    assert requested[4]["environment"] == "staging" and requested[4]["extra_vars"] == ["db_password"]
    assert "hunter2" not in str(events())  # names of extra vars only: a value may be a secret
    assert canceled[:4] == ("bob", "192.0.2.8", "run.cancel", str(run_id))
    with pytest.raises(Conflict), db.session_scope() as session:  # nothing to cancel: nothing recorded
        request_cancel(session, run_id, "bob")
    assert len(events(action="run.cancel")) == 1


def test_a_change_that_rolls_back_leaves_no_event(services, events: Events):
    with pytest.raises(RuntimeError), db.session_scope() as session:
        request_run(session, RunRequest("sampleapp", "staging", requested_by="alice"))
        raise RuntimeError("the request failed after the run was written")
    assert events() == []


def test_dns_changes_users_and_tokens_are_audited(services, events: Events):
    with audit.acting_as("root", "cli"), db.session_scope() as session:
        users.create_user(session, "dana", "viewer", None)
        editors.grant_zone(session, users.get_user(session, "dana"), "example.test")
        users.set_role(session, users.get_user(session, "dana"), "developer")
        credentials.create_token(session, "dana", name="laptop")
    with db.session_scope() as session:
        zones.create_zone(
            session, "example.test", mname="ns1", rname="hostmaster", glue={"ns1": ["192.0.2.1"]}, who="dana"
        )
        records.create_record(session, "example.test", name="www", rtype="A", value="192.0.2.10", who="dana")
    assert [(actor, action) for actor, _, action, _, _ in events(action="user.")] == [
        ("root", "user.create"),
        ("root", "user.grant_zone"),
        ("root", "user.role"),
    ]
    assert events(action="user.role")[0][4] == {"before": "viewer", "after": "developer"}
    assert [(a[0], a[2]) for a in events(action="token.create")] == [("root", "token.create")]
    dns_events = events(action="dns.")
    assert [(actor, action, target) for actor, _, action, target, _ in dns_events] == [
        ("dana", "dns.zone.create", "example.test."),
        ("dana", "dns.records", "example.test."),  # the zone's NS and glue records
        ("dana", "dns.records", "example.test."),
    ]
    assert dns_events[-1][4]["added"] == 1


def test_a_timestamp_in_an_events_details_is_written_as_every_json_answer_writes_it(embedded, events: Events):
    """ISO 8601 with its offset (``serializers.iso``), as in the token's own JSON, not "2027-01-02 03:04:05"."""
    expires = dt.datetime(2099, 1, 2, 3, 4, 5)
    with db.session_scope() as session:
        users.create_user(session, "dana", "viewer", None)
        credentials.create_token(session, "dana", name="laptop", expires_at=expires)
    (created,) = events(action="token.create")
    assert created[4]["expires_at"] == iso(expires) == "2099-01-02T03:04:05+00:00"


def test_logins_are_audited_even_when_they_fail(services, events: Events):
    with db.session_scope() as session:
        users.create_user(session, "erin", "viewer", "correct horse battery")
    for password in ("wrong horse battery", "correct horse battery"):
        try:
            with db.session_scope() as session:
                try:
                    credentials.log_in(session, "erin", password, "198.51.100.4")
                except Unauthenticated:
                    session.commit()  # as the login page does
                    raise
        except Unauthenticated:
            pass
    assert [(a[0], a[1], a[2]) for a in events(action="login.")] == [
        ("erin", "198.51.100.4", "login.failure"),
        ("erin", "198.51.100.4", "login.success"),
    ]


def test_the_log_pages_newest_first_and_filters(embedded, events: Events):
    with db.session_scope() as session:
        for number in range(5):
            audit.record(session, "project.update", "project", f"p{number}", actor="alice" if number % 2 else "bob")
    with db.session_scope() as session:
        first, more = audit.list_events(session, audit.AuditFilters(), limit=2)
        assert [e.target for e in first] == ["p4", "p3"] and more
        rest, more = audit.list_events(session, audit.AuditFilters(action="project."), before_id=first[-1].id, limit=3)
        assert [e.target for e in rest] == ["p2", "p1", "p0"] and not more
        alices, _ = audit.list_events(session, audit.AuditFilters(actor="alice"), limit=10)
        assert [e.target for e in alices] == ["p3", "p1"]
    assert audit.current_actor().name == audit.SYSTEM  # nobody bound: the platform itself
