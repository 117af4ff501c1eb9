"""Rollbacks and promotions are held to freeze windows like deploys: inside a window, 409 naming it; a release
manager's ``freeze_override`` lets one through, kept on the run, audited and notified to a real receiver; a
developer's override is a 403 (a real developer token). On SQLite and on MariaDB."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from playdeck import webhook_delivery
from playdeck.settings import Settings
from tests.conftest import as_user, web_client
from tests.webhook_receiver import allow_loopback, receiver
from tests.webui.test_freeze_windows import audit_actions, incident
from tests.webui.test_releases_api import deployed
from tests.webui.webui_testing import run_count

STAGING = "/api/v1/projects/sampleapp/environments/staging"


@pytest.fixture
def rita(services: Settings) -> FlaskClient:
    """A release manager's session."""
    return web_client("rita", "release_manager")


def rollback(client: FlaskClient, **body):
    return client.post(f"{STAGING}/rollback", json=body)


def promote(client: FlaskClient, run_id: int, to: str, **body):
    return client.post(f"/api/v1/runs/{run_id}/promote", json={"to": to, **body})


def test_a_rollback_inside_a_window_is_refused_naming_it_and_overridden_by_a_release_manager(
    rita: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow_loopback(monkeypatch)
    deployed("sampleapp", "staging", None, version="1.0.0")
    current = deployed("sampleapp", "staging", None, version="2.0.0")
    incident(rita)
    before = run_count()

    refused = rollback(rita)
    assert refused.status_code == 409
    assert "frozen by 'Incident 42'" in refused.json["error"] and "--override-freeze" in refused.json["error"]
    assert run_count() == before

    with receiver() as hooks:
        subscribed = {"url": hooks.url, "events": ["freeze_overridden"]}
        assert rita.post("/api/v1/projects/sampleapp/webhooks", json=subscribed,
                         headers=as_user("root", "admin")).status_code == 201  # fmt: skip
        made = rollback(rita, freeze_override="roll back the broken release")
        assert made.status_code == 201, made.json
        webhook_delivery.deliver_due()
        (notified,) = hooks.wait_for(1)
    run = made.json
    assert (run["version"], run["rollback_of"], run["freeze_override"]) == (
        "1.0.0", current, "roll back the broken release"
    )  # fmt: skip
    assert notified.json["event"] == "run.freeze_overridden" and notified.json["run"]["id"] == run["id"]
    assert audit_actions("run.freeze") == [("rita", "run.freeze_override")]


def test_a_developers_override_of_a_rollback_is_a_403(rita: FlaskClient) -> None:
    deployed("sampleapp", "staging", None, version="1.0.0")
    deployed("sampleapp", "staging", None, version="2.0.0")
    incident(rita)
    developer = as_user("dev", "developer", projects=("sampleapp",))
    before = run_count()

    refused = rita.post(f"{STAGING}/rollback", json={"freeze_override": "I know better"}, headers=developer)
    assert refused.status_code == 403 and "needs the release_manager role" in refused.json["error"]
    plain = rita.post(f"{STAGING}/rollback", headers=developer)
    assert plain.status_code == 409 and "'Incident 42'" in plain.json["error"]
    bad = rollback(rita, freeze_override=["not", "text"])
    assert bad.status_code == 400 and bad.json["field"] == "freeze_override"
    assert run_count() == before and audit_actions("run.freeze") == []


def test_a_promotion_into_a_window_is_refused_naming_it_and_overridden_by_a_release_manager(
    rita: FlaskClient,
) -> None:
    staging = deployed("sampleapp", "staging", None, version="3.0.0")
    production = deployed("sampleapp", "production", None, version="3.0.0")
    incident(rita, name="Launch week", environment="production")

    refused = promote(rita, staging, "production")
    assert refused.status_code == 409 and "frozen by 'Launch week'" in refused.json["error"]

    made = promote(rita, staging, "production", freeze_override="the fix the launch needs")
    assert made.status_code == 201, made.json
    assert (made.json["promoted_from"], made.json["freeze_override"]) == (staging, "the fix the launch needs")
    assert audit_actions("run.freeze") == [("rita", "run.freeze_override")]
    # Nothing frozen in staging: an override there is refused, as for a deploy.
    needless = promote(rita, production, "staging", freeze_override="just in case")
    assert needless.status_code == 409 and "no freeze window is in effect" in needless.json["error"]


def test_a_developers_override_of_a_promotion_is_a_403(rita: FlaskClient) -> None:
    production = deployed("sampleapp", "production", None, version="3.0.0")
    incident(rita)  # staging, where a developer may deploy
    developer = as_user("dev", "developer", projects=("sampleapp",))
    before = run_count()

    refused = rita.post(f"/api/v1/runs/{production}/promote", json={"to": "staging", "freeze_override": "mine"},
                        headers=developer)  # fmt: skip
    assert refused.status_code == 403 and "dev is developer" in refused.json["error"]
    assert run_count() == before and audit_actions("run.freeze") == []


def test_the_pages_roll_back_and_promote_into_a_window_with_a_release_managers_reason(rita: FlaskClient) -> None:
    deployed("sampleapp", "staging", None, version="1.0.0")
    staging = deployed("sampleapp", "staging", None, version="2.0.0")
    incident(rita)
    incident(rita, name="Launch week", environment="production")
    project = rita.get("/projects/sampleapp").get_data(as_text=True)
    assert 'aria-label="Freeze override reason for rolling back staging"' in project

    refused = rita.post("/projects/sampleapp/environments/staging/rollback")
    assert refused.status_code == 409 and "frozen by" in refused.get_data(as_text=True)
    rolled = rita.post("/projects/sampleapp/environments/staging/rollback", data={"freeze_override": "bad release"})
    assert rolled.status_code == 303
    assert rita.get(rolled.headers["Location"]).get_data(as_text=True).count("bad release") >= 1

    assert 'aria-label="Freeze override reason"' in rita.get(f"/runs/{staging}").get_data(as_text=True)
    held = rita.post(f"/runs/{staging}/promote", data={"to": "production"})
    assert held.status_code == 409 and "frozen by" in held.get_data(as_text=True)
    promoted = rita.post(f"/runs/{staging}/promote", data={"to": "production", "freeze_override": "launch fix"})
    assert promoted.status_code == 303
    assert audit_actions("run.freeze") == [("rita", "run.freeze_override")] * 2

    developer = web_client("dev", "developer", projects=("sampleapp",))
    assert "Freeze override reason" not in developer.get("/projects/sampleapp").get_data(as_text=True)
    forbidden = developer.post("/projects/sampleapp/environments/staging/rollback", data={"freeze_override": "me"})
    assert forbidden.status_code == 403
