"""A run's own tree: exactly its commit, side by side with other runs' trees, with submodules when asked, no
link back to the mirror, and paths that cannot leave it through a symlink."""

from __future__ import annotations

import shutil
import threading

import pytest

from playdeck.errors import ValidationError
from playdeck.git import GitError, Mirror, inside_checkout
from playdeck.git.errors import UNKNOWN_COMMIT
from testing.git_servers import RepoBuilder


def fetched(repo: RepoBuilder) -> Mirror:
    mirror = Mirror("shop", repo.url, allow_file=True)
    mirror.fetch()
    return mirror


def test_two_commits_checked_out_at_once_each_get_their_own_files(repo, tmp_path):
    mirror = fetched(repo)
    commits = {"1.0\n": repo.head("v1.0"), "1.2\n": repo.head("main")}
    start, errors = threading.Barrier(len(commits)), []

    def run(version: str, sha: str) -> None:
        start.wait()
        try:
            mirror.checkout(sha, tmp_path / "runs" / version.strip() / "project")
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=item) for item in commits.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for version in commits:
        tree = tmp_path / "runs" / version.strip() / "project"
        assert (tree / "VERSION").read_text() == version
        assert (tree / "deploy" / "site.yml").is_file()
        assert not (tree / ".git").exists()
    assert not (tmp_path / "runs" / "1.0" / "project" / "feature.txt").exists()
    # Plain files: the run needs nothing of the mirror afterwards.
    shutil.rmtree(mirror.path)
    assert (tmp_path / "runs" / "1.0" / "project" / "VERSION").read_text() == "1.0\n"


def test_the_checkout_is_of_the_commit_not_of_the_branch_tip(repo, tmp_path):
    mirror = fetched(repo)
    queued = mirror.resolve("main").sha
    repo.commit("moved on", {"VERSION": "9.9\n"})
    mirror.fetch()
    mirror.checkout(queued, tmp_path / "run")
    assert (tmp_path / "run" / "VERSION").read_text() == "1.2\n"


def test_submodules_are_checked_out_when_asked(repo, tmp_path):
    lib = RepoBuilder(repo.base, "lib")
    lib.commit("lib v1", {"roles/common/tasks/main.yml": "- debug: msg=lib\n"})
    inner = RepoBuilder(repo.base, "inner")
    inner.commit("inner", {"inner.txt": "deep\n"})
    lib.add_submodule("vendor/inner", inner, url="../inner.git")  # relative URLs, nested
    sha = repo.add_submodule("lib", lib, url="../lib.git")
    mirror = fetched(repo)
    mirror.checkout(sha, tmp_path / "plain")
    assert (tmp_path / "plain" / "lib").is_dir() and not any((tmp_path / "plain" / "lib").iterdir())
    mirror.checkout(sha, tmp_path / "with-submodules", submodules=True)
    tree = tmp_path / "with-submodules"
    assert (tree / "lib" / "roles" / "common" / "tasks" / "main.yml").read_text() == "- debug: msg=lib\n"
    assert (tree / "lib" / "vendor" / "inner" / "inner.txt").read_text() == "deep\n"
    assert (tree / "VERSION").read_text() == "1.2\n"
    assert not list(tree.rglob(".git"))


def test_paths_cannot_leave_the_checkout_through_symlinks(repo, tmp_path):
    sha = repo.commit("links", symlinks={"escape": "/etc", "up": "../..", "deploy-link": "deploy"})
    mirror = fetched(repo)
    tree = tmp_path / "run"
    mirror.checkout(sha, tree)
    assert (tree / "escape").is_symlink()
    assert inside_checkout(tree, "deploy-link/site.yml", "playbook") == (tree / "deploy" / "site.yml").resolve()
    for path in ("escape/passwd", "up/x", "../outside.yml", "/etc/passwd", "deploy/../../x"):
        with pytest.raises(ValidationError) as caught:
            inside_checkout(tree, path, "playbook")
        assert caught.value.field == "playbook"


def test_a_commit_the_mirror_lacks_is_a_clear_error(repo, tmp_path):
    mirror = fetched(repo)
    with pytest.raises(GitError) as caught:
        mirror.checkout("1" * 40, tmp_path / "run")
    assert caught.value.reason == UNKNOWN_COMMIT
    with pytest.raises(ValidationError):
        mirror.checkout("main", tmp_path / "run")
