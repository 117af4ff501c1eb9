"""Helpers for the browser tests (named apart from other folders' helpers: test folders share one
import namespace)."""

from __future__ import annotations

from pathlib import Path

from testing.servers import REPO_ROOT

SCREENSHOTS = REPO_ROOT / "tests" / "screenshots"
USER, PASSWORD = "alice", "browser-tests-password"


def screenshot(page, name: str) -> Path:
    """A full-page screenshot for review in tests/screenshots/ (gitignored)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
