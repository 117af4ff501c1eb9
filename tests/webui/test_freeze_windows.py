"""Freeze windows through the API and the pages: managed by release managers (read by everyone), bad windows
refused with a 4xx naming the field, a deploy inside a window refused with the window's name and end, a
release manager's override recorded on the run, audited and notified to a real receiver, and a developer's
override refused (a real developer token). On SQLite and on MariaDB."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from playdeck import db, projects, webhook_delivery
from playdeck.models import AuditEvent, FreezeWindow, Run
from playdeck.release_control import freeze_windows
from playdeck.settings import Settings
from tests.conftest import as_user, web_client
from tests.statements import recorded_statements
from tests.webhook_receiver import allow_loopback, receiver
from tests.webui.webui_testing import RUN, run_count

WINDOWS = "/api/v1/freeze-windows"


def local(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def incident(client: FlaskClient, *, hours: float = 2, **fields) -> dict:
    """An ad hoc window in effect now (for sampleapp/staging unless told), ending in ``hours``."""
    body = {
        "name": "Incident 42",
        "kind": "adhoc",
        "timezone": "UTC",
        "start": local(now() - dt.timedelta(hours=1)),
        "end": local(now() + dt.timedelta(hours=hours)),
        "reason": "database failover in progress",
        "project": "sampleapp",
        "environment": "staging",
        **fields,
    }
    made = client.post(WINDOWS, json={name: value for name, value in body.items() if value is not None})
    assert made.status_code == 201, made.json
    return made.json


def audit_actions(prefix: str) -> list[tuple[str, str]]:
    with db.session_scope() as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.action)
            .where(AuditEvent.action.startswith(prefix))
            .order_by(AuditEvent.id)
        )
        return [tuple(row) for row in rows]


@pytest.fixture
def manager(services: Settings) -> FlaskClient:
    return web_client("rita", "release_manager")


def test_release_managers_manage_windows_and_everyone_reads_them(manager: FlaskClient) -> None:
    made = manager.post(
        WINDOWS,
        json={"name": "Weekend", "kind": "weekly", "timezone": "Europe/Berlin", "start": "friday 16:00",
              "end": "Mon 08:00", "project": "sampleapp", "environment": "production"},
    )  # fmt: skip
    assert made.status_code == 201, made.json
    window = made.json
    assert (window["start"], window["end"], window["scope"]) == ("Fri 16:00", "Mon 08:00", "sampleapp/production")
    assert window["label"] == "Fri 16:00 – Mon 08:00 Europe/Berlin"
    assert made.headers["Location"] == f"{WINDOWS}/{window['id']}"

    viewer = as_user("vera", "viewer")
    assert [w["name"] for w in manager.get(WINDOWS, headers=viewer).json["windows"]] == ["Weekend"]
    developer = as_user("dev", "developer", projects=("sampleapp",))
    refused = manager.post(WINDOWS, json={"name": "Mine", "kind": "weekly", "start": "Fri 16:00", "end": "Mon 08:00"},
                           headers=developer)  # fmt: skip
    assert refused.status_code == 403 and "release_manager" in refused.json["error"]
    assert manager.delete(f"{WINDOWS}/{window['id']}", headers=developer).status_code == 403

    changed = manager.patch(f"{WINDOWS}/{window['id']}", json={"end": "Mon 10:00", "reason": "long weekend"})
    assert changed.status_code == 200 and changed.json["end"] == "Mon 10:00"
    assert manager.delete(f"{WINDOWS}/{window['id']}").status_code == 204
    assert manager.get(f"{WINDOWS}/{window['id']}").status_code == 404
    assert audit_actions("freeze.") == [("rita", "freeze.create"), ("rita", "freeze.update"), ("rita", "freeze.delete")]


def staging_status() -> dict:
    """sampleapp/staging's freeze status as the deploy form and the dashboard read it."""
    with db.session_scope() as session:
        environment_id = projects.get_environment(projects.get_project(session, "sampleapp"), "staging").id
        return freeze_windows.statuses_json(session, [environment_id])[environment_id]


def test_the_windows_kept_between_reads_give_way_to_every_change(manager: FlaskClient) -> None:
    """The windows are read once per change of them (``freeze_revision``), not on every request; a create,
    a change and a delete each show in the very next read."""
    assert staging_status()["next"] is None
    window = incident(manager)
    assert staging_status()["frozen"]
    with recorded_statements() as statements:
        assert staging_status()["frozen"]
    read = " ".join(statement for statement, _ in statements)
    assert "freeze_revision" in read and "freeze_windows" not in read

    later = {"start": local(now() + dt.timedelta(hours=3)), "end": local(now() + dt.timedelta(hours=4))}
    assert manager.patch(f"{WINDOWS}/{window['id']}", json=later).status_code == 200
    moved = staging_status()
    assert not moved["frozen"] and moved["next"]["starts_at"].startswith(later["start"].replace(" ", "T"))
    assert manager.delete(f"{WINDOWS}/{window['id']}").status_code == 204
    assert staging_status()["next"] is None


@pytest.mark.parametrize(
    ("fields", "status", "field", "message"),
    [
        ({"timezone": "Mars/Olympus"}, 400, "timezone", "unknown time zone 'Mars/Olympus'"),
        ({"timezone": "../../../etc/passwd"}, 400, "timezone", "unknown time zone"),
        ({"start": "2026-12-24 18:00", "end": "2026-12-24 08:00"}, 400, "end", "before the start"),
        ({"start": "2020-01-01 00:00", "end": "2020-01-02 00:00"}, 400, "end", "in the past"),
        ({"kind": "weekly", "start": "Fri 16:00", "end": "friday 16:00"}, 400, "end", "is the start"),
        ({"kind": "weekly", "start": "Fri 16:00", "end": "Mon 25:00"}, 400, "end", "not a time of day"),
        ({"kind": "yearly", "start": "Feb 29", "end": "Mar 3"}, 400, "start", "most years"),
        ({"kind": "monthly"}, 400, "kind", "must be one of weekly, yearly, adhoc"),
        ({"reason": ""}, 400, "reason", "non-empty"),
        ({"name": ""}, 400, "name", "non-empty"),
        ({"name": "a\nb"}, 400, "name", "control characters"),
        ({"start": 1700000000}, 400, "start", "must be text"),
        ({"environment": None}, 400, "environment", "give both project and environment"),
        ({"project": "nope"}, 404, None, "project 'nope' does not exist"),
        ({"environment": "moon"}, 404, None, "has no environment 'moon'"),
        ({"when": "always"}, 400, "body", "unknown field(s) when"),
    ],
)
def test_a_bad_window_is_a_4xx_naming_what_is_wrong(manager, fields, status, field, message) -> None:
    body = {"name": "Bad", "kind": "adhoc", "timezone": "UTC", "start": local(now()),
            "end": local(now() + dt.timedelta(hours=1)), "reason": "r", "project": "sampleapp",
            "environment": "staging", **fields}  # fmt: skip
    answer = manager.post(WINDOWS, json={name: value for name, value in body.items() if value is not None})
    assert answer.status_code == status, answer.json
    assert message in answer.json["error"]
    if field:
        assert answer.json["field"] == field
    with db.session_scope() as session:
        assert session.scalars(select(FreezeWindow)).all() == []


def test_a_deploy_inside_a_window_is_refused_with_its_name_and_end(manager: FlaskClient) -> None:
    # Times with an offset are instants; the window's zone is how its end is told.
    start, end = now() - dt.timedelta(hours=1), now() + dt.timedelta(hours=2)
    window = incident(manager, timezone="Europe/Berlin", start=start.isoformat(), end=end.isoformat())
    before = run_count()
    refused = manager.post("/api/v1/runs", json=RUN)
    assert refused.status_code == 409
    ends = dt.datetime.fromisoformat(window["ends_at"])
    message = refused.json["error"]
    assert "deploys to sampleapp/staging are frozen by 'Incident 42'" in message
    berlin = ends.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"until {berlin:%a %Y-%m-%d %H:%M} {berlin.tzname()} ({ends:%Y-%m-%d %H:%M} UTC)" in message
    assert "a release manager may deploy anyway" in message
    assert run_count() == before
    # Production is not frozen by a staging window.
    assert manager.post("/api/v1/runs", json={**RUN, "environment": "production"}).status_code == 201


def test_a_global_window_freezes_every_environment_and_shows_in_the_project_json(manager: FlaskClient) -> None:
    incident(manager, project=None, environment=None, name="Company freeze")
    for environment in ("staging", "production"):
        answer = manager.post("/api/v1/runs", json={**RUN, "environment": environment})
        assert answer.status_code == 409 and "'Company freeze'" in answer.json["error"]
    shown = {env["name"]: env["freeze"] for env in manager.get("/api/v1/projects/sampleapp").json["environments"]}
    assert shown["production"]["frozen"] and shown["production"]["current"][0]["name"] == "Company freeze"
    assert shown["production"]["current"][0]["global"] is True


def test_overlapping_windows_refuse_until_the_end_of_the_chain_and_say_so(manager: FlaskClient) -> None:
    first = incident(manager, name="First", hours=1)
    second = incident(manager, name="Second", start=local(now() + dt.timedelta(minutes=30)), hours=5)
    message = manager.post("/api/v1/runs", json=RUN).json["error"]
    chain_end = dt.datetime.fromisoformat(second["ends_at"])
    assert "frozen by 'First'" in message and "'Second' follows without a gap" in message
    assert f"deploys are refused until {chain_end:%a %Y-%m-%d %H:%M} UTC" in message
    status = manager.get(WINDOWS, query_string={"project": "sampleapp", "environment": "staging"}).json["status"]
    assert (status["until"], [held["name"] for held in status["chain"]]) == (second["ends_at"], ["Second"])
    assert first["id"] != second["id"]


def test_a_release_managers_override_is_recorded_audited_and_notified(
    manager: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow_loopback(monkeypatch)
    incident(manager)
    with receiver() as hooks:
        admin = as_user("root", "admin")
        subscribed = {"url": hooks.url, "events": ["freeze_overridden"]}
        hook = manager.post("/api/v1/projects/sampleapp/webhooks", json=subscribed, headers=admin)
        assert hook.status_code == 201, hook.json
        made = manager.post("/api/v1/runs", json={**RUN, "freeze_override": "  hotfix for the failover  "})
        assert made.status_code == 201, made.json
        run_id = made.json["id"]
        assert made.json["freeze_override"] == "hotfix for the failover"
        webhook_delivery.deliver_due()
        (notified,) = hooks.wait_for(1)
    assert notified.json["event"] == "run.freeze_overridden"
    assert notified.json["run"]["id"] == run_id
    assert notified.json["run"]["freeze_override"] == "hotfix for the failover"
    with db.session_scope() as session:
        assert session.get(Run, run_id).freeze_override == "hotfix for the failover"
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "run.freeze_override")).one()
        assert (event.actor, event.target) == ("rita", str(run_id))
        assert '"windows": ["Incident 42"]' in event.details_json and "hotfix for the failover" in event.details_json
    page = manager.get(f"/runs/{run_id}").get_data(as_text=True)
    assert re.search(r'id="freeze-override">hotfix for the failover<', page)


def test_a_developer_cannot_override_a_freeze(manager: FlaskClient) -> None:
    incident(manager)
    developer = as_user("dev", "developer", projects=("sampleapp",))
    before = run_count()
    refused = manager.post("/api/v1/runs", json={**RUN, "freeze_override": "I know better"}, headers=developer)
    assert refused.status_code == 403
    assert "overriding a freeze window needs the release_manager role" in refused.json["error"]
    assert "dev is developer" in refused.json["error"]
    plain = manager.post("/api/v1/runs", json=RUN, headers=developer)
    assert plain.status_code == 409 and "'Incident 42'" in plain.json["error"]
    assert run_count() == before
    assert audit_actions("run.freeze") == []


def test_an_override_when_nothing_is_frozen_is_refused(manager: FlaskClient) -> None:
    refused = manager.post("/api/v1/runs", json={**RUN, "freeze_override": "just in case"})
    assert refused.status_code == 409 and "no freeze window is in effect" in refused.json["error"]
    bad = manager.post("/api/v1/runs", json={**RUN, "freeze_override": 42})
    assert bad.status_code == 400 and bad.json["field"] == "freeze_override"


def test_the_deploy_form_shows_the_window_and_takes_an_override_from_a_release_manager(
    manager: FlaskClient,
) -> None:
    incident(manager)
    weekly = {"name": "Weekend", "kind": "weekly", "timezone": "Europe/Berlin", "start": "Fri 16:00",
              "end": "Mon 08:00", "project": "sampleapp", "environment": "production"}  # fmt: skip
    assert manager.post(WINDOWS, json=weekly).status_code == 201
    form = manager.get("/projects/sampleapp/deploy").get_data(as_text=True)
    assert re.search(r"<strong>staging</strong>:\s*frozen by <span class=\"window-name\">Incident 42</span>", form)
    assert 'name="freeze_override"' in form
    assert re.search(r'data-environment="production">\s*<strong>production</strong>:\s*(frozen|not frozen)', form)
    assert "Weekend" in form

    refused = manager.post("/projects/sampleapp/deploy", data={"environment": "staging"})
    assert refused.status_code == 409 and "are frozen by &#39;Incident 42&#39;" in refused.get_data(as_text=True)
    done = manager.post("/projects/sampleapp/deploy", data={"environment": "staging", "freeze_override": "hotfix"})
    assert done.status_code == 303
    with db.session_scope() as session:
        assert session.scalars(select(Run.freeze_override)).all()[-1] == "hotfix"

    developer = web_client("dev", "developer", projects=("sampleapp",))
    assert 'name="freeze_override"' not in developer.get("/projects/sampleapp/deploy").get_data(as_text=True)
    dashboard = manager.get("/").get_data(as_text=True)
    assert re.search(r'class="tag frozen"[^>]*>frozen until \w{3} \d{4}-\d\d-\d\d \d\d:\d\d UTC<', dashboard)


def test_the_freeze_page_lists_windows_and_takes_new_ones(manager: FlaskClient) -> None:
    added = manager.post(
        "/freeze-windows",
        data={"name": "Holidays", "kind": "yearly", "timezone": "Europe/Berlin", "start": "Dec 20", "end": "Jan 3",
              "scope": ""},
    )  # fmt: skip
    assert added.status_code == 303
    page = manager.get("/freeze-windows").get_data(as_text=True)
    assert "every Dec 20 – Jan 3 Europe/Berlin" in page and "every environment" in page
    window_id = int(re.search(r'id="freeze-window-(\d+)"', page).group(1))
    assert manager.post(f"/freeze-windows/{window_id}/delete").status_code == 303
    assert "No freeze windows." in manager.get("/freeze-windows").get_data(as_text=True)
    bad = manager.post("/freeze-windows", data={"name": "X", "kind": "weekly", "timezone": "Nowhere/Land",
                                                 "start": "Fri 16:00", "end": "Mon 08:00"})  # fmt: skip
    assert bad.status_code == 400 and "unknown time zone" in bad.get_data(as_text=True)


def test_the_freeze_page_changes_a_window_with_the_apis_checks(manager: FlaskClient) -> None:
    window = incident(manager, name="Failover")
    edit = f"/freeze-windows/{window['id']}"
    listed = manager.get("/freeze-windows").get_data(as_text=True)
    assert f'href="{edit}"' in listed
    form = manager.get(edit).get_data(as_text=True)
    assert 'value="Failover"' in form and 'value="database failover in progress"' in form
    assert 'id="freeze-scope-fixed">sampleapp/staging<' in form

    fields = {"name": "Failover", "kind": "adhoc", "timezone": "Europe/Berlin", "start": window["start"],
              "end": window["start"], "reason": "database failover in progress"}  # fmt: skip
    bad = manager.post(edit, data=fields)
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "is before the start" in page
    assert re.search(r'<label for="freeze-end" class="invalid"', page) and 'value="Europe/Berlin"' in page
    unknown = manager.post(edit, data={**fields, "timezone": "Nowhere/Land"})
    assert unknown.status_code == 400 and "unknown time zone" in unknown.get_data(as_text=True)
    assert manager.post(edit, data={**fields, "kind": "monthly"}).status_code == 400
    assert manager.get(WINDOWS + f"/{window['id']}").json["end"] == window["end"]  # nothing changed

    changed = manager.post(edit, data={**fields, "name": "Failover, longer", "kind": "weekly",
                                       "start": "Fri 16:00", "end": "Mon 08:00", "reason": ""})  # fmt: skip
    assert changed.status_code == 303
    now_is = manager.get(WINDOWS + f"/{window['id']}").json
    assert (now_is["name"], now_is["label"], now_is["scope"]) == (
        "Failover, longer", "Fri 16:00 – Mon 08:00 Europe/Berlin", "sampleapp/staging"
    )  # fmt: skip
    assert audit_actions("freeze.") == [("rita", "freeze.create"), ("rita", "freeze.update")]
    assert manager.get("/freeze-windows/999999").status_code == 404
    assert manager.post("/freeze-windows/999999", data=fields).status_code == 404


def test_a_developer_session_cannot_change_or_delete_windows_from_the_page(manager: FlaskClient) -> None:
    window = incident(manager)
    developer = web_client("dev", "developer", projects=("sampleapp",))
    listed = developer.get("/freeze-windows")
    assert listed.status_code == 200 and "Incident 42" in listed.get_data(as_text=True)
    assert "Add a freeze window" not in listed.get_data(as_text=True)
    edit = f"/freeze-windows/{window['id']}"
    assert developer.get(edit).status_code == 403
    fields = {"name": "Mine", "kind": "weekly", "timezone": "UTC", "start": "Fri 16:00", "end": "Mon 08:00"}
    assert developer.post(edit, data=fields).status_code == 403
    assert developer.post(f"{edit}/delete").status_code == 403
    assert developer.post("/freeze-windows", data=fields).status_code == 403
    assert [w["name"] for w in manager.get(WINDOWS).json["windows"]] == ["Incident 42"]
    assert audit_actions("freeze.") == [("rita", "freeze.create")]
