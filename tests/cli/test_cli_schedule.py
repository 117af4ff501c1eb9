"""`playdeck schedule add|list|pause|resume|rm` against the real web (`playdeck web`, embedded install), as the
token's user; bad input exits 2 with the API's reason."""

from __future__ import annotations

import re

from tests.cli.cli_support import playdeck


def test_schedule_add_list_pause_resume_rm(web_api):
    when = ("--cron", "0 2 * * *", "--timezone", "Europe/Berlin")
    added = playdeck(
        "schedule", "add", "sampleapp", "--env", "staging", *when, "--version", "1.0.0", "--missed", "skip"
    )
    assert added.returncode == 0, added.stderr
    assert "enabled: sampleapp/staging cron '0 2 * * *' in Europe/Berlin; next 20" in added.stdout
    schedule_id = re.search(r"Schedule (\d+)", added.stdout).group(1)

    listed = playdeck("schedule", "list", "--project", "sampleapp")
    assert listed.returncode == 0
    assert re.search(
        rf"^{schedule_id}\s+enabled\s+sampleapp\s+staging\s+0 2 \* \* \*\s+Europe/Berlin", listed.stdout, re.M
    )

    paused = playdeck("schedule", "pause", schedule_id)
    assert paused.returncode == 0 and f"Schedule {schedule_id} paused" in paused.stdout
    resumed = playdeck("schedule", "resume", schedule_id)
    assert resumed.returncode == 0 and f"Schedule {schedule_id} enabled" in resumed.stdout

    removed = playdeck("schedule", "rm", schedule_id)
    assert removed.returncode == 0
    assert schedule_id not in playdeck("schedule", "list").stdout.split()
    gone = playdeck("schedule", "rm", schedule_id)
    assert gone.returncode == 2 and "does not exist" in gone.stderr


def test_schedule_add_pipeline(web_api):
    """``--pipeline`` instead of ``--env``: the schedule starts that pipeline (shown as such)."""
    import requests

    from tests.conftest import api_headers
    from tests.pipelines.helpers import RELEASE_STEPS

    pipeline = {"project": "sampleapp", "name": "release", "steps": RELEASE_STEPS}
    assert requests.post(f"{web_api}/api/v1/pipelines", json=pipeline, headers=api_headers(), timeout=10).ok
    when = ("--cron", "0 2 * * *", "--timezone", "Europe/Berlin")
    added = playdeck("schedule", "add", "sampleapp", "--pipeline", "release", *when, "--version", "2.0.0")
    assert added.returncode == 0, added.stderr
    assert "enabled: pipeline sampleapp/release cron '0 2 * * *'" in added.stdout
    schedule_id = re.search(r"Schedule (\d+)", added.stdout).group(1)
    listed = playdeck("schedule", "list", "--project", "sampleapp")
    assert re.search(rf"^{schedule_id}\s+enabled\s+sampleapp\s+pipeline release\s+0 2", listed.stdout, re.M)
    both = playdeck("schedule", "add", "sampleapp", "--pipeline", "release", "--env", "staging", *when)
    assert both.returncode == 2 and "either" in both.stderr
    deploy_only = playdeck("schedule", "add", "sampleapp", "--pipeline", "release", "--limit", "web1", *when)
    assert deploy_only.returncode == 2 and "limit" in deploy_only.stderr


def test_bad_schedules_exit_2_with_the_reason(web_api):
    bad_cron = playdeck("schedule", "add", "sampleapp", "--env", "staging", "--cron", "0 25 * * *")
    assert bad_cron.returncode == 2 and "hour: 25 is outside 0-23" in bad_cron.stderr
    bad_zone = playdeck(
        "schedule", "add", "sampleapp", "--env", "staging", "--cron", "0 1 * * *", "--timezone", "Atlantis"
    )
    assert bad_zone.returncode == 2 and "unknown time zone" in bad_zone.stderr
    past = playdeck("schedule", "add", "sampleapp", "--env", "staging", "--at", "2020-01-01T00:00:00+00:00")
    assert past.returncode == 2 and "in the past" in past.stderr
    once = playdeck("schedule", "add", "sampleapp", "--env", "staging", "--at", "2099-01-01T00:00:00+01:00")
    assert once.returncode == 0 and "once at 2098-12-31T23:00:00+00:00" in once.stdout


def test_three_real_reapers_fire_each_schedule_once(monkeypatch, tmp_path, mariadb_url):
    """`playdeck reaper` ×3 (one per worker host) on MariaDB: 30 one-off schedules due within seconds give
    30 runs, one each."""
    import datetime as dt

    from sqlalchemy import func, select

    from playdeck import db
    from playdeck.models import Run
    from playdeck.schedules import service
    from playdeck.schedules.models import ScheduleFire
    from tests.cli.cli_support import start_playdeck, stop_process_tree, wait_until
    from tests.conftest import configure

    configure(monkeypatch, data_dir=str(tmp_path / "data"), database_url=mariadb_url)
    reapers = [start_playdeck("reaper", log=tmp_path / f"reaper{number}.log") for number in range(3)]
    try:
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=8)
        with db.session_scope() as session:
            for number in range(30):
                at = (soon + dt.timedelta(milliseconds=100 * number)).isoformat()
                given = {"project": "sampleapp", "environment": "staging", "at": at, "version": "1.0.0"}
                service.create(session, given, "admin")

        def fired() -> int:
            with db.session_scope() as session:
                return session.scalar(select(func.count()).select_from(ScheduleFire))

        wait_until(lambda: fired() >= 30, timeout=90, what="30 fires")
        time_to_double_fire = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
        wait_until(lambda: dt.datetime.now(dt.UTC) > time_to_double_fire, timeout=10, what="a few more passes")
    finally:
        for reaper in reapers:
            stop_process_tree(reaper, timeout=15)
    with db.session_scope() as session:
        outcomes = session.execute(select(ScheduleFire.outcome, func.count()).group_by(ScheduleFire.outcome)).all()
        runs = session.scalar(select(func.count()).select_from(Run))
    assert outcomes == [("run", 30)] and runs == 30
