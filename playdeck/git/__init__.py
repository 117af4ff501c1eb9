"""Projects from git: checked URLs and refs, a bare mirror per project, a plain tree per run.

Infrastructure taking plain values (no DB, Flask or Celery). The API:

- ``urls.check_url(url, allow_file=False) -> str`` and ``refs.check_ref(ref) -> str``: ValidationError on
  "git_url" / "ref" for anything git must not be given;
- ``credentials.GitCredential``: ``.ssh_key(private_key, known_hosts)`` or ``.https(username, password)``;
- ``mirror.Mirror(key, url, credential=None, *, allow_file=False, root=None)``: ``fetch(max_age_seconds)``,
  ``fetched_at()``, ``resolve(ref) -> Commit``, ``list_refs() -> list[RefInfo]``,
  ``commits_between(old_sha, new_sha, limit) -> Changes``, ``has_commit(sha)``, ``is_reachable(sha, ref="")``,
  ``checkout(sha, dest, submodules=False)``;
- ``checkout.inside_checkout(root, relative, field) -> Path``: a path of the checkout, or ValidationError;
- ``objects``: Commit, RefInfo, ChangedCommit, Changes;
- ``errors``: GitError (``reason``: unreachable, authentication failed, unknown/changed host key, timed out,
  repository too large, …; a ValidationError naming the field) and UnknownRef (``matches``).

Underneath: ``command`` (the one place git runs: private HOME, clean environment, allowed transports,
timeouts), ``diagnosis`` (git's output → reason, credentials removed), ``resolving`` (names → commits, in
Python), ``history`` (commits by id).
"""

from playdeck.git.checkout import inside_checkout
from playdeck.git.credentials import GitCredential
from playdeck.git.errors import GitError, UnknownRef
from playdeck.git.mirror import Mirror
from playdeck.git.objects import ChangedCommit, Changes, Commit, RefInfo
from playdeck.git.refs import check_ref
from playdeck.git.urls import check_url

__all__ = [
    "ChangedCommit",
    "Changes",
    "Commit",
    "GitCredential",
    "GitError",
    "Mirror",
    "RefInfo",
    "UnknownRef",
    "check_ref",
    "check_url",
    "inside_checkout",
]
