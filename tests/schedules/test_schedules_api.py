"""``/api/v1/schedules`` end to end on the embedded install: create, list, read with fires, pause, resume,
delete, the preview; bad input answered 4xx with the reason; who may schedule where."""

from __future__ import annotations

import datetime as dt

import pytest

from playdeck import db
from playdeck.auth import users
from playdeck.models import utcnow
from playdeck.schedules import firing
from playdeck.settings import get_settings
from tests.conftest import as_user, web_client

SCHEDULE = {"project": "sampleapp", "environment": "staging", "cron": "0 2 * * *", "timezone": "Europe/Berlin",
            "version": "1.0.0", "limit": "localhost", "tags": ["app"], "check": True}  # fmt: skip


@pytest.fixture
def client(embedded):
    return web_client()


def test_create_list_read_pause_resume_delete(client):
    created = client.post("/api/v1/schedules", json=SCHEDULE)
    assert created.status_code == 201, created.json
    schedule = created.json
    assert created.headers["Location"].endswith(f"/api/v1/schedules/{schedule['id']}")
    assert (schedule["owner"], schedule["cron"], schedule["timezone"], schedule["tags"], schedule["check"]) == (
        "admin", "0 2 * * *", "Europe/Berlin", ["app"], True)  # fmt: skip
    assert schedule["enabled"] and schedule["next_fire_at"].endswith("+00:00")
    listed = client.get("/api/v1/schedules?project=sampleapp").json["schedules"]
    assert [row["id"] for row in listed] == [schedule["id"]]

    paused = client.patch(f"/api/v1/schedules/{schedule['id']}", json={"enabled": False})
    assert paused.status_code == 200 and paused.json["enabled"] is False
    assert firing.fire_due(get_settings(), utcnow() + dt.timedelta(days=2)) == []
    resumed = client.patch(f"/api/v1/schedules/{schedule['id']}", json={"enabled": True, "cron": "30 3 * * *"})
    assert resumed.status_code == 200 and resumed.json["enabled"] and resumed.json["cron"] == "30 3 * * *"

    fired = firing.fire_due(get_settings(), utcnow() + dt.timedelta(days=1, minutes=1))
    assert [f.outcome for f in fired] == ["run"]
    read = client.get(f"/api/v1/schedules/{schedule['id']}").json
    assert [(fire["outcome"], fire["run_id"]) for fire in read["fires"]] == [("run", fired[0].run_id)]
    [listed] = client.get("/api/v1/schedules").json["schedules"]
    assert (listed["project"], listed["last_fire"]["run_id"]) == ("sampleapp", fired[0].run_id)
    run = client.get(f"/api/v1/runs/{fired[0].run_id}").json
    assert (run["requested_by"], run["limit"], run["check"]) == ("admin", "localhost", True)

    assert client.delete(f"/api/v1/schedules/{schedule['id']}").status_code == 204
    assert client.get(f"/api/v1/schedules/{schedule['id']}").status_code == 404


def test_a_one_off_schedule_with_an_offset(client):
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).astimezone(dt.timezone(dt.timedelta(hours=-5)))
    created = client.post("/api/v1/schedules", json={**SCHEDULE, "cron": None, "at": at.isoformat()})
    assert created.status_code == 201, created.json
    assert created.json["at"] == at.astimezone(dt.UTC).isoformat()


@pytest.mark.parametrize(
    "change, status, message",
    [
        ({"cron": "61 * * * *"}, 400, "minute: 61 is outside 0-59"),
        ({"timezone": "Mars/Olympus"}, 400, "unknown time zone"),
        ({"cron": None, "at": "2020-01-01T00:00:00Z"}, 400, "in the past"),
        ({"cron": None, "at": "2030-01-01T00:00:00"}, 400, "has no offset"),
        ({"at": "2030-01-01T00:00:00Z"}, 400, 'either "cron"'),
        ({"cron": None}, 400, 'either "cron"'),
        ({"environment": "moon"}, 404, "moon"),
        ({"project": "nope"}, 404, "nope"),
        ({"missed_policy": "sometimes"}, 400, "missed_policy"),
        ({"ref": "main"}, 400, "deploys from a directory"),
        ({"only_new_commits": True}, 400, "no commits to compare"),
        ({"limit": "@/etc/passwd"}, 400, "limit"),
        ({"extra_vars": ["x"]}, 400, "extra_vars"),
        ({"requested_by": "someone"}, 400, "unknown field"),
        ({"owner": "someone"}, 400, "unknown field"),
    ],
)
def test_bad_input_is_a_4xx_with_the_reason(client, change, status, message):
    answer = client.post("/api/v1/schedules", json={**SCHEDULE, **change})
    assert answer.status_code == status, answer.json
    assert message in answer.json["error"]


def test_preview_shows_the_next_five_in_the_zone_and_in_utc(client):
    answer = client.get("/api/v1/schedules/preview?cron=0+2+*+*+*&timezone=Europe/Berlin")
    assert answer.status_code == 200
    times = answer.json["times"]
    assert len(times) == 5
    assert times[0]["local"].endswith(("+01:00", "+02:00")) and times[0]["utc"].endswith("+00:00")
    assert "T02:00:00" in times[1]["local"] or "T03:00:00" in times[1]["local"]
    bad = client.get("/api/v1/schedules/preview?cron=nope&timezone=UTC")
    assert bad.status_code == 400 and "needs 5 fields" in bad.json["error"]
    assert client.get("/api/v1/schedules/preview?cron=*+*+*+*+*&timezone=Nowhere/Else").status_code == 400


def test_a_developer_cannot_schedule_to_a_protected_environment(client):
    developer = as_user("dev", "developer", projects=("sampleapp",))
    refused = client.post("/api/v1/schedules", json={**SCHEDULE, "environment": "production"}, headers=developer)
    assert refused.status_code == 403 and "protected" in refused.json["error"]
    viewer = as_user("viewer", "viewer")
    assert client.post("/api/v1/schedules", json=SCHEDULE, headers=viewer).status_code == 403
    own = client.post("/api/v1/schedules", json=SCHEDULE, headers=developer)
    assert own.status_code == 201 and own.json["owner"] == "dev"
    # Another developer of the project may not change dev's schedule; a release manager may.
    other = as_user("dev2", "developer", projects=("sampleapp",))
    path = f"/api/v1/schedules/{own.json['id']}"
    assert client.patch(path, json={"enabled": False}, headers=other).status_code == 403
    assert client.patch(path, json={"enabled": False}, headers=as_user("rm", "release_manager")).status_code == 200


def test_an_owner_losing_rights_pauses_the_schedule_and_it_cannot_resume(client):
    developer = as_user("dev", "developer", projects=("sampleapp",))
    schedule = client.post("/api/v1/schedules", json=SCHEDULE, headers=developer).json
    with db.session_scope() as session:
        users.revoke_project(session, users.get_user(session, "dev"), "sampleapp")
    fired = firing.fire_due(get_settings(), utcnow() + dt.timedelta(days=2))
    assert [f.outcome for f in fired] == ["paused"]
    read = client.get(f"/api/v1/schedules/{schedule['id']}").json
    assert read["enabled"] is False
    assert "paused itself" in read["paused_reason"] and "not a member" in read["paused_reason"]
    assert read["fires"][0]["outcome"] == "paused"
    resume = client.patch(f"/api/v1/schedules/{schedule['id']}", json={"enabled": True})
    assert resume.status_code == 409 and "cannot resume" in resume.json["error"]


def test_the_schedules_page_lists_adds_and_pauses(client):
    from tests.conftest import make_user

    make_user("admin")
    page = client.get("/projects/sampleapp/schedules")
    assert page.status_code == 200 and "No schedules yet." in page.text and "schedules.js" in page.text
    # A bearer-token client needs no CSRF token; the form's fields are the page's.
    form = {"environment": "staging", "kind": "cron", "cron": "15 4 * * *", "timezone": "America/New_York",
            "version": "1.0.0", "missed_policy": "skip", "tags": "app, db"}  # fmt: skip
    added = client.post("/projects/sampleapp/schedules", data=form)
    assert added.status_code == 303
    listing = client.get("/projects/sampleapp/schedules").text
    assert "<code>15 4 * * *</code> in America/New_York" in listing and "enabled" in listing
    schedule_id = client.get("/api/v1/schedules").json["schedules"][0]["id"]
    assert client.get("/api/v1/schedules").json["schedules"][0]["tags"] == ["app", "db"]
    paused = client.post(f"/projects/sampleapp/schedules/{schedule_id}/enabled", data={"enabled": "0"})
    assert paused.status_code == 303
    assert client.get(f"/api/v1/schedules/{schedule_id}").json["enabled"] is False
    refused = client.post("/projects/sampleapp/schedules", data={**form, "cron": "* * *"})
    assert refused.status_code == 400 and "needs 5 fields" in refused.text
