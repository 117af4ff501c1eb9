"""The schedules' "now": the real clock, or a rehearsal clock read from a file (``schedule_clock_file``).

A rehearsal clock lets an operator (and the tests) see schedules fire through a DST night or a maintenance
window on a staging install, with the real reaper processes: the file holds an instant (ISO 8601 with an
offset) and the clock runs on from it in real time, counted from the file's last change. Only the firing of
schedules reads it; runs, heartbeats and everything else keep the real clock (a fake time there would expire
leases and tokens).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from pathlib import Path

from playdeck.model_base import utcnow
from playdeck.settings import Settings

log = logging.getLogger(__name__)

_lock = threading.Lock()
# The file's last seen (path, mtime in ns) and the instant it held, so a pass re-reads it only after a change.
_seen: dict[str, tuple[int, dt.datetime]] = {}


def _instant(path: Path, mtime_ns: int) -> dt.datetime:
    """The file's instant as naive UTC, read once per change of the file."""
    with _lock:
        known = _seen.get(str(path))
        if known is not None and known[0] == mtime_ns:
            return known[1]
        parsed = dt.datetime.fromisoformat(path.read_text().strip())
        if parsed.tzinfo is None:
            raise ValueError(f"{path}: '{parsed.isoformat()}' has no offset")
        instant = parsed.astimezone(dt.UTC).replace(tzinfo=None)
        _seen[str(path)] = (mtime_ns, instant)
        log.warning("schedules follow the rehearsal clock in %s: %s UTC", path, instant)
        return instant


def now(settings: Settings) -> dt.datetime:
    """Naive UTC: the real time, or the rehearsal clock's when ``schedule_clock_file`` is set."""
    path = settings.schedule_clock_file
    if path is None:
        return utcnow()
    mtime_ns = os.stat(path).st_mtime_ns
    elapsed = max(0.0, time.time() - mtime_ns / 1e9)
    return _instant(path, mtime_ns) + dt.timedelta(seconds=elapsed)
