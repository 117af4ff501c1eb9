"""A project's mirror: fetching (once for many callers), resolving what a user typed, the picker's list, what a
deploy ships, and commits a force-push removed."""

from __future__ import annotations

import threading

import pytest

from playdeck.errors import ValidationError
from playdeck.git import GitCredential, GitError, Mirror, UnknownRef
from playdeck.git.errors import TOO_LARGE
from tests.git.conftest import TOKEN


def mirror_of(repo, key: str = "shop") -> Mirror:
    mirror = Mirror(key, repo.url, allow_file=True)
    mirror.fetch()
    return mirror


def test_branches_tags_and_commit_ids_resolve_to_their_commit(repo):
    mirror = mirror_of(repo)
    assert mirror.resolve("main").sha == repo.head("main")
    assert mirror.resolve("main").subject == "third"
    assert mirror.resolve("main").author == "Ada Dev"
    assert mirror.resolve("feature").sha == repo.head("feature")
    # An annotated tag resolves to the commit it tags, a lightweight one to its commit.
    assert mirror.resolve("v1.0").sha == repo.head("v1.0")
    assert mirror.resolve("v1.0").subject == "first"
    assert mirror.resolve("v1.1").subject == "second"
    assert mirror.resolve("refs/heads/feature").sha == repo.head("feature")
    second = repo.head("v1.1")
    assert mirror.resolve(second).sha == second
    assert mirror.resolve(second[:7]).sha == second
    assert mirror.resolve(second[:10].upper()).sha == second


def test_unknown_ref_names_the_closest_matches(repo):
    mirror = mirror_of(repo)
    with pytest.raises(UnknownRef) as caught:
        mirror.resolve("featrue")
    assert caught.value.field == "ref"
    assert caught.value.matches[0] == "feature"
    assert "feature" in caught.value.message
    with pytest.raises(UnknownRef):
        mirror.resolve("deadbeef00")  # hex, but no such commit


def test_a_moved_branch_is_seen_after_the_next_fetch_only(repo):
    mirror = mirror_of(repo)
    before = mirror.resolve("main").sha
    moved = repo.commit("fourth", {"VERSION": "1.3\n"})
    assert mirror.fetch(max_age_seconds=3600) is False  # fresh enough: not fetched
    assert mirror.resolve("main").sha == before
    assert mirror.fetch(max_age_seconds=0) is True
    assert mirror.resolve("main").sha == moved


def test_twenty_callers_at_once_cause_one_fetch(repo, https_server):
    mirror = Mirror("shop", https_server.url("shop"), GitCredential.https("deploy", TOKEN))
    start = threading.Barrier(20)
    results: list[bool] = []

    def queue_a_run() -> None:
        start.wait()
        results.append(Mirror("shop", https_server.url("shop"), GitCredential.https("deploy", TOKEN)).fetch(60))

    threads = [threading.Thread(target=queue_a_run) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 19 + [True]
    assert https_server.fetches() == 1
    assert mirror.resolve("main").sha == repo.head("main")


def test_force_pushed_commit_is_not_reachable_after_fetch(repo):
    mirror = mirror_of(repo)
    repo.switch("feature")
    removed, replacement = repo.rewrite_last("feature work, rewritten")
    assert mirror.is_reachable(removed)
    mirror.fetch()
    assert mirror.has_commit(removed)  # still stored…
    assert not mirror.is_reachable(removed)  # …but no branch or tag leads to it
    assert mirror.is_reachable(replacement)
    with pytest.raises(ValidationError, match="force-push"):
        mirror.resolve(removed)


def test_a_commit_its_ref_no_longer_leads_to_is_still_reachable_from_another_branch(repo):
    mirror = mirror_of(repo)
    work = repo.head("feature")
    repo.branch("keep", "feature", switch=False)  # the only ref left leading to it, once feature is rewritten
    repo.switch("feature")
    _, replacement = repo.rewrite_last("feature work, rewritten")
    gone = repo.commit("more", {"more.txt": "x"})
    mirror.fetch()
    repo.git("reset", "--quiet", "--hard", replacement)
    repo.publish()  # "more" force-pushed away, on no branch or tag
    mirror.fetch()
    assert mirror.is_reachable(work, "feature")  # feature no longer leads to it; keep does
    assert mirror.is_reachable(replacement, "feature")
    assert mirror.is_reachable(repo.head("v1.0"), "refs/tags/v1.0")  # an annotated tag: its commit
    assert mirror.has_commit(gone)
    for ref in ("feature", "main", "keep", "", "no-such-branch", gone, "-all"):
        assert not mirror.is_reachable(gone, ref), ref


def test_each_fetch_keeps_a_commit_graph_of_the_mirror(repo):
    mirror = mirror_of(repo)
    repo.commit("fourth", {"VERSION": "1.3\n"})
    mirror.fetch()
    graphs = mirror.path / "objects" / "info"
    assert (graphs / "commit-graph").exists() or (graphs / "commit-graphs" / "commit-graph-chain").exists()


def test_commits_between_lists_what_ships_and_flags_reverts_and_rollbacks(repo):
    old = repo.head("main")
    added = repo.commit("add cache", {"cache.txt": "on\n"})
    repo.revert(added)
    repo.commit("tune", {"VERSION": "1.4\n"})
    mirror = mirror_of(repo)
    new = repo.head("main")
    changes = mirror.commits_between(old, new)
    assert [change.commit.subject for change in changes.added] == ["tune", 'Revert "add cache"', "add cache"]
    assert changes.added_total == 3 and changes.reverts == 1
    assert not changes.rollback and changes.removed == []
    back = mirror.commits_between(new, old)
    assert back.rollback and back.added == [] and back.removed_total == 3
    first = mirror.commits_between(None, old, limit=2)
    assert first.added_total == 3 and len(first.added) == 2
    with pytest.raises(GitError):
        mirror.commits_between("0" * 40, new)
    with pytest.raises(ValidationError):
        mirror.commits_between("main", new)


def test_list_refs_with_5000_tags_and_500_branches(repo):
    repo.many_refs(tags=5000, branches=500)
    mirror = mirror_of(repo)
    refs = mirror.list_refs()
    assert sum(ref.kind == "tag" for ref in refs) == 5002
    assert sum(ref.kind == "branch" for ref in refs) == 502
    assert [ref.date for ref in refs] == sorted((ref.date for ref in refs), reverse=True)
    newest = refs[0]
    assert newest.sha == repo.head("feature") and newest.subject == "feature work"
    by_name = {(ref.kind, ref.name): ref for ref in refs}
    assert by_name[("tag", "v1.0")].sha == repo.head("v1.0") and by_name[("tag", "v1.0")].subject == "first"
    assert mirror.resolve("t04999").sha == by_name[("tag", "t04999")].sha


def test_a_mirror_over_the_size_limit_is_refused_and_removed(repo, git_settings):
    git_settings(GIT_MAX_MIRROR_MB="1")
    repo.commit("big", {"blob.bin": __import__("os").urandom(3 * 1024 * 1024)})
    mirror = Mirror("shop", repo.url, allow_file=True)
    with pytest.raises(GitError) as caught:
        mirror.fetch()
    assert caught.value.reason == TOO_LARGE
    assert not mirror.path.exists()
    assert mirror.fetched_at() is None


def test_a_changed_url_starts_a_new_mirror(repo, tmp_path):
    from testing.git_servers import RepoBuilder

    mirror_of(repo)
    other = RepoBuilder(tmp_path / "other", "shop")
    only = other.commit("unrelated", {"a": "b"})
    mirror = Mirror("shop", other.url, allow_file=True)
    assert mirror.fetched_at() is None
    mirror.fetch(3600)
    assert mirror.resolve("main").sha == only
    assert not mirror.has_commit(repo.head("main"))
