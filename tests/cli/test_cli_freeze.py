"""`playdeck freeze add|list|rm` and `playdeck deploy|rollback|promote --override-freeze` through the real web
(gunicorn): a deploy inside a window exits 2 with the window's name and end, a developer's override exits 2
with why, a release manager's is recorded on the run."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests

from playdeck.settings import get_settings
from tests.cli.cli_support import playdeck
from tests.cli.test_cli_rollback import deployed
from tests.conftest import api_headers, make_user


def as_cli_user(monkeypatch: pytest.MonkeyPatch, name: str, role: str, **grants: tuple[str, ...]) -> None:
    monkeypatch.setenv("PLAYDECK_TOKEN", make_user(name, role, **grants))
    get_settings.cache_clear()


def test_a_freeze_added_from_the_cli_refuses_deploys_until_a_release_manager_overrides_it(
    web_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_cli_user(monkeypatch, "rita", "release_manager")
    start, end = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
    added = playdeck("freeze", "add", "Failover", "--project", "sampleapp", "--env", "staging", "--adhoc",
                     f"{start:%Y-%m-%d %H:%M}", f"{end:%Y-%m-%d %H:%M}", "--reason", "database failover")  # fmt: skip
    assert added.returncode == 0, added.stderr
    window_id = int(re.search(r"Freeze window (\d+) 'Failover' \(sampleapp/staging\)", added.stdout).group(1))

    listed = playdeck("freeze", "list", "--project", "sampleapp", "--env", "staging")
    assert listed.returncode == 0 and "Failover" in listed.stdout
    assert f"sampleapp/staging: frozen until {end:%a %Y-%m-%d %H:%M} UTC" in listed.stdout

    refused = playdeck("deploy", "sampleapp", "--env", "staging")
    assert refused.returncode == 2
    assert "the API answered 409: deploys to sampleapp/staging are frozen by 'Failover'" in refused.stderr
    assert f"until {end:%a %Y-%m-%d %H:%M} UTC ({end:%Y-%m-%d %H:%M} UTC)" in refused.stderr

    as_cli_user(monkeypatch, "dev", "developer", projects=("sampleapp",))
    forbidden = playdeck("deploy", "sampleapp", "--env", "staging", "--override-freeze", "I know better")
    assert forbidden.returncode == 2
    assert "the API answered 403: overriding a freeze window needs the release_manager role" in forbidden.stderr
    assert playdeck("freeze", "rm", str(window_id)).returncode == 2

    as_cli_user(monkeypatch, "rita", "release_manager")
    overridden = playdeck("deploy", "sampleapp", "--env", "staging", "--override-freeze", "hotfix for the failover")
    assert overridden.returncode == 0, overridden.stderr
    run_id = int(re.search(r"Run (\d+) queued", overridden.stdout).group(1))
    run = requests.get(f"{web_api}/api/v1/runs/{run_id}", headers=api_headers(), timeout=10).json()
    assert (run["requested_by"], run["freeze_override"]) == ("rita", "hotfix for the failover")

    removed = playdeck("freeze", "rm", str(window_id))
    assert removed.returncode == 0, removed.stderr
    assert playdeck("deploy", "sampleapp", "--env", "staging").returncode == 0


def test_bad_windows_exit_2_with_the_reason(web_api: str) -> None:
    unknown_zone = playdeck("freeze", "add", "Weekend", "--weekly", "Fri 16:00", "Mon 08:00", "--tz", "Mars/Olympus")
    assert unknown_zone.returncode == 2 and "unknown time zone 'Mars/Olympus'" in unknown_zone.stderr
    backwards = playdeck("freeze", "add", "Oops", "--adhoc", "2030-01-02 00:00", "2030-01-01 00:00", "--reason", "x")
    assert backwards.returncode == 2 and "end: is before the start" in backwards.stderr
    both = playdeck("freeze", "add", "Two", "--weekly", "Fri 16:00", "Mon 08:00", "--yearly", "Dec 20", "Jan 3")
    assert both.returncode == 2 and "exactly one of --weekly, --yearly or --adhoc" in both.stderr
    assert "No freeze windows." in playdeck("freeze", "list").stdout


def test_rollback_and_promote_inside_a_window_exit_2_naming_it_until_a_release_manager_overrides(
    web_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_cli_user(monkeypatch, "rita", "release_manager")
    deployed("1.0.0")
    staging = deployed("2.0.0")
    start, end = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
    window = ("--adhoc", f"{start:%Y-%m-%d %H:%M}", f"{end:%Y-%m-%d %H:%M}", "--reason", "audit week")
    for environment in ("staging", "production"):
        added = playdeck("freeze", "add", "Audit", "--project", "sampleapp", "--env", environment, *window)
        assert added.returncode == 0, added.stderr

    refused = playdeck("rollback", "sampleapp", "--env", "staging")
    assert refused.returncode == 2 and "409: deploys to sampleapp/staging are frozen by 'Audit'" in refused.stderr
    refused = playdeck("promote", str(staging), "--to", "production")
    assert refused.returncode == 2 and "409: deploys to sampleapp/production are frozen by 'Audit'" in refused.stderr

    rolled = playdeck("rollback", "sampleapp", "--env", "staging", "--override-freeze", "2.0.0 broke logins")
    assert rolled.returncode == 0, rolled.stderr
    promoted = playdeck("promote", str(staging), "--to", "production", "--override-freeze", "auditors need 2.0.0")
    assert promoted.returncode == 0, promoted.stderr
    for output, reason in ((rolled.stdout, "2.0.0 broke logins"), (promoted.stdout, "auditors need 2.0.0")):
        run_id = int(re.search(r"Run (\d+) ", output).group(1))
        run = requests.get(f"{web_api}/api/v1/runs/{run_id}", headers=api_headers(), timeout=10).json()
        assert (run["requested_by"], run["freeze_override"]) == ("rita", reason)

    as_cli_user(monkeypatch, "dev", "developer", projects=("sampleapp",))
    forbidden = playdeck("rollback", "sampleapp", "--env", "staging", "--override-freeze", "me too")
    assert forbidden.returncode == 2 and "403: overriding a freeze window needs the release_manager" in forbidden.stderr
