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
