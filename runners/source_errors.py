"""The one error of preparing a run's source (its checkout, playbook, inventory, requirements), and the check of
the paths a project names in it."""

from __future__ import annotations

from pathlib import Path

from playdeck.errors import PlaydeckError, ValidationError
from playdeck.paths import resolve_inside


class SourceUnavailable(PlaydeckError):
    """The run's source cannot be prepared (a commit a force-push removed, a playbook missing at that commit or
    leaving the checkout, a Galaxy server that does not answer): the run ends in error with this message as its
    reason, before its playbook starts."""


def existing_path(base: Path, relative: str, what: str, where: str) -> Path:
    """``relative`` in ``base`` (``what``: "playbook", "inventory"; ``where`` names ``base`` in a reason), or
    SourceUnavailable: it leaves ``base`` (``..``, absolute, a symlink pointing out) or is not there."""
    try:
        path = resolve_inside(base, relative, what)
    except ValidationError as exc:
        raise SourceUnavailable(f"{what} '{relative}' leaves {where}: {exc.message}") from None
    if not path.exists():
        raise SourceUnavailable(f"{what} '{relative}' not found in {where}")
    return path
