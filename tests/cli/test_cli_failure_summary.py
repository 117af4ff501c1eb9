"""`playdeck deploy --wait` ends a failed run with why it failed: the failed host, the task and its message,
the host's final (rollback) message, and a link to the first failure's line in the log; a real web, worker
and playbook (tests/playbooks/switch_deploy.yml)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from playdeck import db, projects
from tests.cli.cli_support import playdeck
from tests.cli.conftest import serve_web


@pytest.fixture
def switchy_web(test_playbooks, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    with db.session_scope() as session:
        projects.add_project(session, "switchy", "switch_deploy.yml", {"dev": "local2.ini"})
    yield from serve_web(monkeypatch, tmp_path)


def test_deploy_wait_says_why_the_run_failed(switchy_web, start_worker, tmp_path):
    start_worker()
    (tmp_path / "hosts").mkdir()
    extra = json.dumps({"state_dir": str(tmp_path / "hosts"), "fail_hosts": ["host1"]})
    (tmp_path / "hosts" / "host1").write_text("2.0.0")  # what host1 ran before
    result = playdeck("deploy", "switchy", "--env", "dev", "--version", "3.0.0", "--extra-vars", extra, "--wait",
                      timeout=180)  # fmt: skip

    assert result.returncode == 1, result.stdout + result.stderr
    why = result.stdout[result.stdout.index("Why it ended badly:") :]
    assert "host1 failed in 'Check health': health check failed on host1" in why
    assert "finally 'Fail the deploy of this host': 3.0.0 failed on host1; current is back on 2.0.0" in why
    assert "host2" not in why  # it succeeded
    link = re.search(r"First failure in the log: (\S+)/runs/(\d+)#event-(\d+)", why)
    assert link and link.group(1) == switchy_web
