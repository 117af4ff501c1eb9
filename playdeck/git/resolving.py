"""From a name a user typed to a commit, and the list of names they can pick from.

The user's ref never becomes a git argument of its own: the mirror's branches and tags are read with one
``for-each-ref`` and matched in Python (git's own order: the name as given under refs/, then a tag, then a
branch); a commit id (checked hex) goes to ``cat-file --batch-check`` on stdin. Only full ids that git
printed itself are passed back to git. (``tip_of`` lists only a checked ref's full names under refs/heads and
refs/tags, after ``--end-of-options``, and still matches exactly in Python.)
"""

from __future__ import annotations

import difflib
from datetime import datetime
from pathlib import Path

from playdeck.errors import ValidationError
from playdeck.git import errors, history
from playdeck.git.command import GitSession
from playdeck.git.objects import Commit, RefInfo
from playdeck.git.refs import check_ref, is_commit_id

BRANCH, TAG = "branch", "tag"
_PREFIXES = {"refs/heads/": BRANCH, "refs/tags/": TAG}
MAX_MATCHES = 5
# for-each-ref fields, "*" ones of the commit an annotated tag points to (empty for other refs).
_FIELDS = (
    "refname", "objecttype", "objectname", "*objecttype", "*objectname",
    "committerdate:iso-strict", "*committerdate:iso-strict", "authorname", "*authorname", "subject", "*subject",
)  # fmt: skip
_FORMAT = "%00".join(f"%({name})" for name in _FIELDS)


def list_refs(git_dir: Path) -> list[RefInfo]:
    """Every branch and tag that names a commit, newest commit first (one ``for-each-ref``)."""
    with GitSession() as git:
        output = git.run(f"--git-dir={git_dir}", "for-each-ref", f"--format={_FORMAT}", "refs/heads", "refs/tags")
    found = []
    for line in output.stdout.splitlines():
        refname, kind, sha, peeled_kind, peeled, date, peeled_date, author, peeled_author, subject, peeled_subject = (
            line.split("\0")
        )
        prefix = next((prefix for prefix in _PREFIXES if refname.startswith(prefix)), None)
        if prefix is None:
            continue
        if kind == "tag":  # annotated: what it points to
            if peeled_kind != "commit":
                continue
            sha, date, author, subject = peeled, peeled_date, peeled_author, peeled_subject
        elif kind != "commit":
            continue
        found.append(
            RefInfo(refname[len(prefix) :], _PREFIXES[prefix], sha, datetime.fromisoformat(date), subject, author)
        )
    found.sort(key=lambda ref: (ref.date, ref.kind == BRANCH), reverse=True)
    return found


def _ref_table(
    git: GitSession, git_dir: Path, patterns: tuple[str, ...] = ("refs/heads", "refs/tags")
) -> dict[str, str]:
    """Full ref name → commit id, for the branches and tags (annotated tags peeled), or for the refs under
    ``patterns`` (full names under refs/, each a prefix: the caller picks the exact name)."""
    output = git.run(
        f"--git-dir={git_dir}",
        "for-each-ref",
        "--format=%(refname)%00%(objectname)%00%(*objectname)",
        "--end-of-options",
        *patterns,
    )
    table = {}
    for line in output.stdout.splitlines():
        refname, sha, peeled = line.split("\0")
        table[refname] = peeled or sha
    return table


def resolve(git_dir: Path, ref: str) -> Commit:
    """The commit ``ref`` names: a branch, a tag, or a commit id on some branch or tag. UnknownRef (with the
    closest names) when there is none; ValidationError on "ref" when the value is not a valid name."""
    ref = check_ref(ref)
    with GitSession() as git:
        table = _ref_table(git, git_dir)
        named = _named(table, ref)
        if named is not None:
            return commit_info(git, git_dir, named)
        if is_commit_id(ref):
            sha = _commit_id(git, git_dir, ref.lower())
            if sha is not None:
                if not history.reachable_in(git, git_dir, sha):
                    raise ValidationError(
                        "ref", f"commit {ref} is on no branch or tag of the repository (removed by a force-push?)"
                    )
                return commit_info(git, git_dir, sha)
    names = sorted({name.split("/", 2)[2] for name in table})
    raise errors.UnknownRef(ref, difflib.get_close_matches(ref, names, n=MAX_MATCHES, cutoff=0.5))


def _candidates(ref: str) -> list[str]:
    """The full names ``ref`` may stand for, in git's order: as given under refs/, a tag, a branch."""
    names = (ref, f"refs/{ref}", f"refs/tags/{ref}", f"refs/heads/{ref}")
    return [name for name in names if name.startswith(tuple(_PREFIXES))]


def _named(table: dict[str, str], ref: str) -> str | None:
    """The commit of the branch or tag ``ref`` names."""
    return next((table[name] for name in _candidates(ref) if name in table), None)


def tip_of(git_dir: Path, ref: str) -> str | None:
    """The commit the branch or tag ``ref`` names now (a full id git printed); None for a commit id, a ref the
    repository no longer has, or a value that is no valid ref name (nothing of it reaches git)."""
    try:
        ref = check_ref(ref)
    except ValidationError:
        return None
    # Only the few candidate names are listed (checked, full names under refs/heads or refs/tags, after
    # --end-of-options): reading all 5,500 refs of a big mirror cost more than the ancestry check itself.
    with GitSession() as git:
        return _named(_ref_table(git, git_dir, tuple(_candidates(ref))), ref)


def _commit_id(git: GitSession, git_dir: Path, hex_id: str) -> str | None:
    """The full id of the commit ``hex_id`` abbreviates (a tag's commit for a tag id), None if none or ambiguous."""
    output = git.run(f"--git-dir={git_dir}", "cat-file", "--batch-check", input=f"{hex_id}^{{commit}}\n")
    fields = output.stdout.split()
    return fields[0] if len(fields) == 3 and fields[1] == "commit" else None


def commit_info(git: GitSession, git_dir: Path, sha: str) -> Commit:
    """Subject, author and date of the commit ``sha`` (a full id git printed)."""
    log = ("log", "-z", "-1", "--no-walk", history.LOG_FORMAT)
    output = git.run(f"--git-dir={git_dir}", *log, "--end-of-options", sha)
    return history.parse_log(output.stdout)[0].commit
