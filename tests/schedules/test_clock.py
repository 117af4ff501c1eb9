"""The rehearsal clock of schedules (``PLAYDECK_SCHEDULE_CLOCK_FILE``): the file's instant plus the real time
since it changed, re-read when it changes; unset, the real clock."""

from __future__ import annotations

import datetime as dt
import os
import time

from playdeck.model_base import utcnow
from playdeck.schedules import clock
from playdeck.settings import get_settings
from tests.conftest import configure


def test_the_clock_file_sets_the_schedules_now_and_runs_on_from_its_change(monkeypatch, tmp_path):
    configure(monkeypatch, data_dir=str(tmp_path / "data"))
    assert abs(clock.now(get_settings()) - utcnow()) < dt.timedelta(seconds=5)
    path = tmp_path / "clock"
    path.write_text("2027-03-28T02:59:00+02:00\n")
    changed = time.time() - 30  # written 30 s ago
    os.utime(path, (changed, changed))
    monkeypatch.setenv("PLAYDECK_SCHEDULE_CLOCK_FILE", str(path))
    configure(monkeypatch, data_dir=str(tmp_path / "data"))
    now = clock.now(get_settings())
    assert dt.datetime(2027, 3, 28, 0, 59, 30) <= now < dt.datetime(2027, 3, 28, 0, 59, 40)
    path.write_text("2028-02-29T12:00:00Z")
    assert dt.datetime(2028, 2, 29, 12) <= clock.now(get_settings()) < dt.datetime(2028, 2, 29, 12, 0, 10)
