"""Paths a user names inside a directory of ours (a playbook, an inventory, a file of a checkout)."""

from __future__ import annotations

from pathlib import Path

from playdeck.errors import ValidationError


def resolve_inside(base: Path, relative: str, field: str) -> Path:
    """An absolute path for ``relative`` that is guaranteed to stay inside ``base``: ``..``, an absolute path and
    symlinks are resolved first, so a symlink pointing outside is refused like ``../``."""
    path = (base / relative).resolve()
    if not path.is_relative_to(base.resolve()):
        raise ValidationError(field, f"'{relative}' points outside {base}")
    return path
