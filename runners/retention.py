"""Removes per-run private data dirs (artifacts) older than the retention setting.

Events and results live in the DB (old runs leave it through ``playdeck.runs.purge``); the artifact dirs are
kept for inspection only, so they are pruned by age. A dir of a run that is still queued or running is
never touched, however old.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path

from sqlalchemy import select

from playdeck.db import session_scope
from playdeck.models import Run
from playdeck.runs.conditions import is_active
from playdeck.settings import Settings
from runners import secret_files

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600
PURGE_BATCH_ROWS = 5000
PURGE_RUNS_PER_PASS = 100
_last_prune = 0.0
_lock = threading.Lock()


def prune_artifacts(settings: Settings, now: float | None = None) -> list[int]:
    """Delete artifact dirs last modified before the retention window; returns the run ids removed."""
    now = time.time() if now is None else now
    cutoff = now - settings.artifact_retention_days * 86400
    if not settings.runs_dir.is_dir():
        return []
    old = {
        int(path.name): path
        for path in settings.runs_dir.iterdir()
        if path.is_dir() and path.name.isdigit() and path.stat().st_mtime < cutoff
    }
    if not old:
        return []
    with session_scope() as session:
        active = set(session.scalars(select(Run.id).where(Run.id.in_(old), is_active())))
    removed = []
    for run_id, path in sorted(old.items()):
        if run_id in active:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(run_id)
    if removed:
        log.info("pruned artifacts of %d runs older than %d days", len(removed), settings.artifact_retention_days)
    return removed


def remove_secret_leftovers(settings: Settings) -> list[int]:
    """Delete the secret files of ended runs whose worker died before removing them (the run's own
    ``finally`` does it otherwise); returns the run ids cleaned."""
    if not settings.runs_dir.is_dir():
        return []
    found: dict[int, Path] = {}
    for pattern in secret_files.LEFTOVER_PATTERNS:
        for path in settings.runs_dir.glob(f"*/attempt-*/{pattern}"):
            run_dir = path.relative_to(settings.runs_dir).parts[0]
            if run_dir.isdigit():
                found[int(run_dir)] = settings.runs_dir / run_dir
    if not found:
        return []
    with session_scope() as session:
        active = set(session.scalars(select(Run.id).where(Run.id.in_(found), is_active())))
    cleaned = [
        run_id for run_id, path in sorted(found.items()) if run_id not in active and secret_files.remove_leftovers(path)
    ]
    return cleaned


def prune_if_due(settings: Settings) -> None:
    """Prune at most once an hour per process; cheap enough to call after every run."""
    global _last_prune
    with _lock:
        if time.monotonic() - _last_prune < PRUNE_EVERY_SECONDS and _last_prune:
            return
        _last_prune = time.monotonic()
    try:
        prune_artifacts(settings)
        remove_secret_leftovers(settings)
    except Exception:  # pruning must never fail a run
        log.exception("artifact pruning failed")
