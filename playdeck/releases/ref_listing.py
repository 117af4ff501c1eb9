"""The branches and tags a deploy form offers, newest commit first, filtered by what the user typed.

The mirror is fetched when it is older than the project's cache time (the fetch takes no argument from the
caller); the parsed list of its refs is kept per mirror and fetch, so a picker answering keystrokes over 5,000
tags reads git once per fetch, not once per keystroke.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from playdeck.commit_label import short_sha
from playdeck.db import session_scope
from playdeck.errors import ValidationError
from playdeck.git import Mirror, RefInfo
from playdeck.projects import get_project
from playdeck.projects.git_source import GitSource
from playdeck.serializers import iso

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_QUERY_CHARS = 255
# Mirrors whose parsed refs are kept (a few projects' pickers open at once).
CACHED_MIRRORS = 16

_cache: OrderedDict[str, tuple[float | None, list[RefInfo]]] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class RefListing:
    refs: list[RefInfo]
    total: int  # matching, before the limit
    default_branch: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "default_branch": self.default_branch,
            "total": self.total,
            "refs": [
                {
                    "name": ref.name,
                    "kind": ref.kind,
                    "commit": ref.sha,
                    "short_commit": short_sha(ref.sha),
                    "date": iso(ref.date),
                    "subject": ref.subject,
                    "author": ref.author,
                }
                for ref in self.refs
            ],
        }


def cached_refs(mirror: Mirror) -> list[RefInfo]:
    """``mirror.list_refs()``, read again only after the mirror was fetched again."""
    fetched = mirror.fetched_at()
    key = str(mirror.path)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == fetched:
            _cache.move_to_end(key)
            return hit[1]
    refs = mirror.list_refs()
    with _cache_lock:
        _cache[key] = (fetched, refs)
        _cache.move_to_end(key)
        while len(_cache) > CACHED_MIRRORS:
            _cache.popitem(last=False)
    return refs


def check_query(q: str | None, limit: int | None) -> tuple[str, int]:
    q = q or ""
    if len(q) > MAX_QUERY_CHARS or not q.isprintable():
        raise ValidationError("q", f"must be at most {MAX_QUERY_CHARS} printable characters")
    limit = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return q, limit


def list_refs(project_name: str, q: str | None = None, limit: int | None = None) -> RefListing:
    """The project's branches and tags whose name contains ``q`` (any case), at most ``limit``, newest first.
    The default branch comes first when it matches, then the ref named exactly ``q``."""
    q, limit = check_query(q, limit)
    with session_scope() as session:
        source = GitSource.of_git_project(session, get_project(session, project_name))
    # No session is open from here on: a fetch can take long.
    mirror, default = source.mirror(), source.branch
    mirror.fetch(source.cache_seconds)
    needle = q.casefold()
    matching = [ref for ref in cached_refs(mirror) if needle in ref.name.casefold()]
    # The default branch, then the ref named exactly (among 5,000 tags containing it, the deploy form's picker
    # must list the one typed), then newest first (the sort is stable).
    matching.sort(key=lambda ref: 0 if ref.kind == "branch" and ref.name == default else 1 if ref.name == q else 2)
    return RefListing(matching[:limit], len(matching), default)
