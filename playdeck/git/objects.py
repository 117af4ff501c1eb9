"""What the git layer hands back: plain, immutable values (no git, no DB)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Commit:
    sha: str  # the full id: 40 hex digits (64 in a SHA-256 repository)
    subject: str
    author: str
    date: datetime  # the committer date, with its time zone

    @property
    def short_sha(self) -> str:
        return self.sha[:12]


@dataclass(frozen=True)
class RefInfo:
    """A branch or a tag, for a picker: the commit it names (an annotated tag's target) and that commit's data."""

    name: str  # short: "main", "release/2.0", "v1.4.2"
    kind: str  # "branch" or "tag"
    sha: str
    date: datetime
    subject: str
    author: str


@dataclass(frozen=True)
class ChangedCommit:
    commit: Commit
    is_revert: bool


@dataclass(frozen=True)
class Changes:
    """What deploying ``new`` does where ``old`` is deployed. ``added``: the commits new has that old lacks,
    newest first (at most the limit asked; ``added_total`` counts them all); ``removed``: those old has that new
    lacks (a rollback or a force-push undoes them). ``rollback``: new is an ancestor of old."""

    added: list[ChangedCommit]
    added_total: int
    removed: list[ChangedCommit]
    removed_total: int
    rollback: bool

    @property
    def reverts(self) -> int:
        return sum(1 for change in self.added if change.is_revert)
