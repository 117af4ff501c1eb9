"""A run is isolated from the platform: an attacker's playbook (tests/playbooks/snoop.yml), run by a real worker,
reads nothing of the DB, other runs, the logs or other processes' environment, and writes only where allowed."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from playdeck import db, projects
from playdeck.models import RunEvent
from playdeck.runs.events import events_after
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from playdeck.settings import Settings, load_settings
from runners import sandbox
from tests.conftest import REPO_ROOT, TERMINAL, configure, make_user, queue_run, use_key, wait_for_state

SECRET_KEY = Fernet.generate_key().decode()
# Files a run must not read. /proc/1/environ is read too, and is readable in the sandbox: there it is the
# sandbox's own init, with the run's environment (and an empty PLAYDECK_SECRET_KEY).
PROBES = ("database", "other_run", "log", "key_file")
# Outside /tmp and every place a run may write; with no sandbox, a snooping run writes it (removed after the test).
SNOOPED_ELSEWHERE = REPO_ROOT / "tests" / "playbooks" / f"snooped-{uuid.uuid4().hex}"


@pytest.fixture
def platform(monkeypatch, tmp_path) -> Iterator[Settings]:
    """The zero-configuration install (SQLite file and logs in the data dir) with a secrets key, projects over
    tests/playbooks, and a canary user in the DB; runs may write nowhere but their own places."""
    use_key(monkeypatch, SECRET_KEY)
    # The key in a file too (PLAYDECK_SECRET_KEY_FILE, which production uses instead of the variable).
    key_file = tmp_path / "secret-key"
    key_file.write_text(SECRET_KEY + "\n")
    monkeypatch.setenv("PLAYDECK_SECRET_KEY_FILE", str(key_file))
    monkeypatch.setenv("PLAYDECK_RUN_WRITABLE_PATHS", "")
    settings = configure(
        monkeypatch,
        seed_sample=False,
        data_dir=str(tmp_path / "data"),
        playbook_dir=str(REPO_ROOT / "tests" / "playbooks"),
        inventory_dir=str(REPO_ROOT / "tests" / "inventory"),
    )
    with db.session_scope() as session:
        projects.add_project(session, "snoop", "snoop.yml", {"dev": "local2.ini"})
        projects.add_project(session, "marker", "marker.yml", {"dev": "local2.ini"})
    settings.apps_dir.mkdir()  # where the report goes
    yield settings
    SNOOPED_ELSEWHERE.unlink(missing_ok=True)


def canary() -> str:
    return f"canary-{uuid.uuid4().hex}"


def submit(project: str, **extra) -> int:
    return queue_run(RunRequest(project=project, environment="dev", limit="host1", **extra)).id


def snoop(settings: Settings, tmp_path: Path, worker_log: Path) -> tuple[int, dict, list[str], list[Path]]:
    """Run snoop.yml after another run that carried a canary; returns its id, report, secrets, forbidden files."""
    database_canary, other_canary = canary(), canary()
    make_user(database_canary, "viewer")
    other = submit("marker", extra_vars={"note": other_canary})
    assert wait_for_state(other, TERMINAL) == "successful"
    # In the data dir and /tmp (each a throwaway tmpfs in the sandbox), and anywhere else (read-only).
    forbidden = [settings.data_dir / "snooped", tmp_path / "snooped", SNOOPED_ELSEWHERE]
    files = {
        "database": str(settings.data_dir / "playdeck.db"),
        "other_run": str(settings.runs_dir / str(other) / "attempt-1" / "env" / "extravars"),
        "log": str(worker_log),
        "key_file": str(settings.secret_key_file),
        "init_environ": "/proc/1/environ",
    }
    assert all(Path(path).exists() for path in files.values())
    run_id = submit("snoop", extra_vars={"snoop_files": files, "snoop_forbidden_writes": [str(p) for p in forbidden]})
    assert wait_for_state(run_id, TERMINAL) == "successful", everything_the_run_left(settings, run_id)[-3000:]
    report = json.loads((settings.apps_dir / "snoop-report.json").read_text())
    return run_id, report, [SECRET_KEY, database_canary, other_canary], forbidden


def everything_the_run_left(settings: Settings, run_id: int) -> str:
    """Its events (all columns), its reason, and every artifact file of its private dir."""
    columns = (*RunEvent.__table__.columns,)
    with db.session_scope() as session:
        events = events_after(session, run_id, 0, limit=1000, columns=columns)
        texts = [json.dumps([str(value) for value in event]) for event in events]
        texts.append(get_run(session, run_id).reason or "")
    for root, _dirs, names in os.walk(settings.runs_dir / str(run_id)):
        texts += [(Path(root) / name).read_bytes().decode(errors="replace") for name in names]
    return "\n".join(texts)


def test_a_sandboxed_run_reads_nothing_of_the_platform_and_writes_only_its_places(platform, start_worker, tmp_path):
    worker_log = platform.data_dir / "log" / "worker.log"
    worker_log.parent.mkdir()
    start_worker(log_path=worker_log)

    run_id, report, secrets, forbidden = snoop(platform, tmp_path, worker_log)

    # Every probe failed: the files are hidden, /proc shows the run's own processes, the key is not in its env.
    assert all(report["file_reads"][probe] != 0 for probe in PROBES), report["file_reads"]
    assert report["environ_search"] == ""
    assert report["looked_up"] == dict.fromkeys(("env", "init_environ", "database", "other_run", "log"), "")
    # No secret of the platform reached anything the run left behind.
    left = everything_the_run_left(platform, run_id)
    assert [secret for secret in secrets if secret in left] == []
    # Writing outside its places failed or landed in the sandbox's throwaway tmpfs, never on disk.
    assert [path for path in forbidden if path.exists()] == []
    assert report["writes_failed"][2] is True


def test_without_the_sandbox_the_same_playbook_reads_the_platform(platform, start_worker, tmp_path, monkeypatch):
    """The probes work: with PLAYDECK_RUN_SANDBOX=none they find what the sandbox hides."""
    monkeypatch.setenv("PLAYDECK_RUN_SANDBOX", "none")
    worker_log = platform.data_dir / "log" / "worker.log"
    worker_log.parent.mkdir()
    start_worker(log_path=worker_log)

    run_id, report, secrets, forbidden = snoop(platform, tmp_path, worker_log)

    assert all(report["file_reads"][probe] == 0 for probe in PROBES)
    assert f"PLAYDECK_SECRET_KEY={SECRET_KEY}" in report["environ_search"]
    assert report["looked_up"]["database"].startswith("canary-")
    assert secrets[2] in report["looked_up"]["other_run"]
    assert [path for path in forbidden if path.exists()] == forbidden


def test_a_run_asked_to_be_sandboxed_without_bwrap_ends_in_error_unstarted(platform, start_worker, monkeypatch):
    monkeypatch.setenv("PLAYDECK_RUN_SANDBOX", "bwrap")
    # A PATH with the worker's Python and Ansible but no bwrap.
    monkeypatch.setenv("PATH", str(Path(os.sys.executable).parent))
    start_worker()

    run_id = submit("marker")

    assert wait_for_state(run_id, TERMINAL) == "error"
    with db.session_scope() as session:
        run = get_run(session, run_id)
        assert "PLAYDECK_RUN_SANDBOX=bwrap, but bwrap is not installed" in run.reason
        assert run.event_count == 0


def in_sandbox(monkeypatch, project_dir: Path, script: str, *args: object) -> subprocess.CompletedProcess[str]:
    """``sh -c SCRIPT ARGS`` where a run's ansible-playbook would be: in the sandbox of run 1, from ``project_dir``,
    with PLAYDECK_RUN_SANDBOX=bwrap and no writable paths beyond the run's own."""
    monkeypatch.setenv("PLAYDECK_RUN_SANDBOX", "bwrap")
    monkeypatch.setenv("PLAYDECK_RUN_WRITABLE_PATHS", "")
    settings = load_settings()
    private_dir = settings.runs_dir / "1" / "attempt-1"
    private_dir.mkdir(parents=True, exist_ok=True)
    jail = sandbox.prepare(sandbox.resolve(settings), settings, private_dir, project_dir)
    argv = [jail.binary, *jail.args, "sh", "-c", script, *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def test_a_worker_without_the_dns_zone_dir_runs_deploys_and_leaves_that_dir_alone(monkeypatch, tmp_path):
    # A deploy worker host configured like the DNS one: its zone dir (e.g. under /var/lib/bind) is not here.
    zone_dir = tmp_path / "bind" / "zones"
    monkeypatch.setenv("PLAYDECK_DNS_ZONE_DIR", str(zone_dir))
    settings = load_settings()
    private_dir = settings.runs_dir / "1" / "attempt-1"

    # What the sandbox runs: here a shell instead of ansible-playbook.
    # /tmp (here: the test's tmp dir) is the sandbox's own tmpfs; the checkout is read-only.
    script = 'touch "$0/app" "$1/own" "$2/in-tmpfs" && ! touch "$3"'
    places = (settings.apps_dir, private_dir, tmp_path, SNOOPED_ELSEWHERE)
    try:
        private_dir.mkdir(parents=True)
        done = in_sandbox(monkeypatch, REPO_ROOT / "tests" / "playbooks", script, *places)
        assert done.returncode == 0, done.stderr
        assert (settings.apps_dir / "app").exists() and (private_dir / "own").exists()
        assert not (tmp_path / "in-tmpfs").exists() and not SNOOPED_ELSEWHERE.exists() and not zone_dir.exists()
    finally:
        SNOOPED_ELSEWHERE.unlink(missing_ok=True)


def test_playbooks_and_inventories_kept_under_tmp_are_readable_and_read_only(monkeypatch, tmp_path):
    # /tmp is the run's own tmpfs; the playbooks and inventories of an install kept there must still be seen
    # (they were not: "bwrap: Can't chdir to /tmp/.../playbooks").
    assert tmp_path.is_relative_to("/tmp"), "run with a --basetemp under /tmp"
    playbooks, inventories = tmp_path / "playbooks", tmp_path / "inventory"
    playbooks.mkdir()
    inventories.mkdir()
    (playbooks / "site.yml").write_text("- hosts: all\n")
    (inventories / "hosts.ini").write_text("host1\n")
    monkeypatch.setenv("PLAYDECK_PLAYBOOK_DIR", str(playbooks))
    monkeypatch.setenv("PLAYDECK_INVENTORY_DIR", str(inventories))
    data_dir = load_settings().data_dir
    data_dir.mkdir(parents=True)
    (data_dir / "playdeck.db").write_text("rows\n")

    # Run from the playbook's dir, as ansible-playbook is; the data dir (under the same tmp dir) stays hidden.
    script = 'cat site.yml "$0/hosts.ini" && ! touch new.yml && ! cat "$1/playdeck.db"'
    done = in_sandbox(monkeypatch, playbooks, script, inventories, data_dir)

    assert done.returncode == 0, done.stderr
    assert done.stdout == "- hosts: all\nhost1\n"
    assert not (playbooks / "new.yml").exists()


def test_ansible_tmp_is_the_runs_own_in_home_and_in_the_users_home(monkeypatch, tmp_path):
    # A local connection expands ``~`` of the user it runs as (the password database's home), not $HOME: under a
    # service manager whose HOME was elsewhere, the sample deploy failed ("Failed to create temporary directory
    # ... /root/.ansible/tmp", read-only in the sandbox).
    service_home = tmp_path / "service-home"
    monkeypatch.setenv("HOME", str(service_home))
    users_home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    assert users_home != service_home
    name = f"probe-{uuid.uuid4().hex}"
    script = 'touch "$0/.ansible/tmp/$2-home" "$1/.ansible/tmp/$2-user"'
    done = in_sandbox(monkeypatch, REPO_ROOT / "tests" / "playbooks", script, service_home, users_home, name)
    assert done.returncode == 0, done.stderr
    scratch = load_settings().runs_dir / "1" / "attempt-1" / sandbox.SCRATCH_DIR
    assert sorted(path.name for path in scratch.iterdir()) == [f"{name}-home", f"{name}-user"]
    assert not (users_home / ".ansible" / "tmp" / f"{name}-user").exists()
