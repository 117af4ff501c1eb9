"""`playdeck env set --approvals`, `playdeck approve` and `playdeck reject` through the real API, as users with
their own tokens; `deploy --wait` keeps waiting while the run awaits approval and stops when it is rejected."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from playdeck import db
from playdeck.models import Run
from tests.cli.cli_support import playdeck, wait_until
from tests.conftest import make_user

PLAYDECK = Path(sys.executable).parent / "playdeck"


def as_cli_user(monkeypatch, name: str, role: str, **grants) -> None:
    """The next `playdeck` commands send a token of ``name``'s (created with ``role`` if missing)."""
    monkeypatch.setenv("PLAYDECK_TOKEN", make_user(name, role, **grants))


def state_of(run_id: int) -> str:
    with db.session_scope() as session:
        return session.get(Run, run_id).state


def deploy_as_mallory(monkeypatch) -> int:
    as_cli_user(monkeypatch, "mallory", "developer", projects=("sampleapp",))
    queued = playdeck("deploy", "sampleapp", "--env", "staging", "--version", "4.0.0")
    assert queued.returncode == 0, queued.stderr
    assert "It waits for approval: 0 of 2 given" in queued.stdout
    return int(re.search(r"Run (\d+) awaiting_approval", queued.stdout).group(1))


def test_env_set_approvals_then_approve_and_reject(web_api: str, monkeypatch) -> None:
    make_user("carol", "viewer")
    configured = playdeck("env", "set", "sampleapp", "staging", "--approvals", "2", "--approver-roles",
                          "release_manager", "--approver-users", "carol", "--approval-timeout", "3600")  # fmt: skip
    assert configured.returncode == 0, configured.stderr
    shown = json.loads(configured.stdout)
    assert (shown["approvals_required"], shown["approver_roles"], shown["approver_users"]) == (
        2, ["release_manager"], ["carol"])  # fmt: skip
    assert shown["approval_timeout_seconds"] == 3600
    bad = playdeck("env", "set", "sampleapp", "staging", "--approver-roles", "developer")
    assert bad.returncode == 2 and "only release_manager and admin approve by role" in bad.stderr

    run_id = deploy_as_mallory(monkeypatch)
    own = playdeck("approve", str(run_id), "-m", "mine")
    assert own.returncode == 2 and "never decides on their own run" in own.stderr

    as_cli_user(monkeypatch, "rita", "release_manager")
    first = playdeck("approve", str(run_id), "-m", "fine by me")
    assert first.returncode == 0, first.stderr
    assert f"Run {run_id} awaiting_approval" in first.stdout and "1 of 2 given" in first.stdout
    twice = playdeck("approve", str(run_id), "-m", "again")
    assert twice.returncode == 2 and "rita already decided" in twice.stderr

    as_cli_user(monkeypatch, "carol", "viewer")
    last = playdeck("approve", str(run_id))
    assert last.returncode == 0 and f"Run {run_id} queued" in last.stdout
    assert state_of(run_id) == "queued"

    other = deploy_as_mallory(monkeypatch)
    as_cli_user(monkeypatch, "rita", "release_manager")
    no_reason = playdeck("reject", str(other))
    assert no_reason.returncode == 2 and "-m" in no_reason.stderr
    rejected = playdeck("reject", str(other), "-m", "not today")
    assert rejected.returncode == 0 and f"Run {other} rejected" in rejected.stdout
    assert "rejected by rita: not today" in rejected.stdout


def test_deploy_wait_waits_while_awaiting_approval_and_stops_on_rejection(web_api: str, monkeypatch, tmp_path):
    assert playdeck("env", "set", "sampleapp", "staging", "--approvals", "1").returncode == 0
    as_cli_user(monkeypatch, "mallory", "developer", projects=("sampleapp",))
    waiting = subprocess.Popen(
        [str(PLAYDECK), "deploy", "sampleapp", "--env", "staging", "--wait"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def awaiting() -> int | None:
            with db.session_scope() as session:
                return session.query(Run.id).filter(Run.state == "awaiting_approval").scalar()

        run_id = wait_until(awaiting, 60, "the deploy to await approval")
        # Still following: a run awaiting approval has not ended.
        wait_until(lambda: waiting.poll() is None, 1, "the CLI to keep waiting")
        as_cli_user(monkeypatch, "rita", "release_manager")
        assert playdeck("reject", str(run_id), "-m", "freeze").returncode == 0
        stdout, stderr = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    assert waiting.returncode == 1, stderr
    assert f"Run {run_id} rejected" in stdout and "rejected by rita: freeze" in stdout
    assert "awaiting_approval" in stderr  # the state line the stream printed while it waited
