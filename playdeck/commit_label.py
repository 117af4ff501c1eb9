"""How people read what a run deploys: its version and, for a git project, its ref, short commit and subject.

One wording for every place that shows it (the CLI, webhook messages, the pages' templates use the same
parts): ``2.0.0 · v1.4.2 @ 3f2a9c1d0e4b "Fix the checkout"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# As playdeck.git.Commit.short_sha: long enough to stay unique in big repositories.
SHORT_SHA_CHARS = 12


def short_sha(sha: str | None) -> str:
    return (sha or "")[:SHORT_SHA_CHARS]


def commit_label(run: Mapping[str, Any], with_subject: bool = True) -> str:
    """``ref @ short-sha "subject"`` of a run as the API gives it (keys ref, commit, commit_subject); "" for a
    run of a directory project."""
    if not run.get("commit"):
        return ""
    label = f"{run.get('ref') or '?'} @ {short_sha(run['commit'])}"
    subject = run.get("commit_subject") or ""
    return f'{label} "{subject}"' if with_subject and subject else label


def source_label(run: Mapping[str, Any], with_subject: bool = True) -> str:
    """The version and the commit label, whichever the run has (both: ``version · label``); "" for neither."""
    parts = [run.get("version") or "", commit_label(run, with_subject)]
    return " · ".join(part for part in parts if part)
