"""The supervisord configuration of `playdeck up`, read the way supervisord reads it, and run for real."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
import requests
from supervisor.datatypes import RestartWhenExitUnexpected
from supervisor.options import ServerOptions

from playdeck.cli import supervisor
from playdeck.errors import PlaydeckError
from playdeck.settings import get_settings
from tests.cli.cli_support import SupervisedPlaydeck
from tests.conftest import api_headers, use_key

WORKERS = ("playdeck-worker-deploy", "playdeck-worker-dns")


def supervisord_view(monkeypatch: pytest.MonkeyPatch) -> dict:
    """The program configs supervisord builds from the rendered file (its own parser, its own checks)."""
    settings = get_settings()
    for name, value in supervisor.program_environment(settings).items():
        monkeypatch.setenv(name, value)
    config = supervisor.write_config(settings)
    options = ServerOptions()
    options.realize(args=["-c", str(config)])
    return {group.name: group.process_configs[0] for group in options.process_group_configs}


def test_workers_wait_for_running_deploys_when_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    programs = supervisord_view(monkeypatch)

    assert set(programs) == set(supervisor.PROGRAMS)
    for name in WORKERS:
        worker = programs[name]
        assert worker.stopsignal == signal.SIGTERM
        assert worker.stopwaitsecs == 600
        assert worker.stopasgroup is False
        assert worker.killasgroup is True
        # A drained worker exits 0 and stays stopped; a crash is still restarted.
        assert worker.autorestart is RestartWhenExitUnexpected and worker.exitcodes == [0]
        assert worker.startsecs >= 1


def test_programs_run_this_installation_with_logs_in_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYDECK_WORKER_CONCURRENCY", "5")
    programs = supervisord_view(monkeypatch)
    settings = get_settings()
    command = supervisor.playdeck_command()

    assert programs["playdeck-web"].command == f"{command} web"
    assert programs["playdeck-worker-deploy"].command == (
        f"{command} worker --queues deploy --concurrency 5 --name deploy"
    )
    assert programs["playdeck-worker-dns"].command.startswith(f"{command} worker --queues dns ")
    for name, program in programs.items():
        assert program.stdout_logfile == str(settings.data_dir / "log" / f"{name}.log")
        assert program.redirect_stderr is True


def test_without_a_console_script_the_programs_run_the_module() -> None:
    # playdeck_command() falls back to `python -m playdeck.cli` in a checkout with no console script.
    shown = subprocess.run(
        [sys.executable, "-m", "playdeck.cli", "--help"], capture_output=True, text=True, timeout=60, check=False
    )

    assert shown.returncode == 0, shown.stderr
    for command in ("deploy", "user", "workers", "drain", "db", "web", "worker", "reaper", "up"):
        assert f"\n  {command} " in shown.stdout


def test_a_data_dir_too_long_for_a_unix_socket_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PLAYDECK_DATA_DIR", str(tmp_path / ("x" * 100)))
    get_settings.cache_clear()

    with pytest.raises(PlaydeckError, match="longer than a unix socket allows"):
        supervisor.render_config(get_settings())


def socket_path_length() -> int:
    return len(str(supervisor.SupervisorLayout.for_settings(get_settings()).socket).encode())


@pytest.mark.parametrize("over", [0, 1])
def test_the_socket_limit_leaves_room_for_supervisords_temporary_name(
    monkeypatch: pytest.MonkeyPatch, over: int
) -> None:
    # supervisord binds "<socket>.<pid>" first: a 103-byte socket path passed an earlier check and then
    # failed inside supervisord with "AF_UNIX path too long".
    base = Path(tempfile.mkdtemp(dir="/tmp"))  # short, whatever pytest's tmp paths are
    monkeypatch.setenv("PLAYDECK_DATA_DIR", str(base))
    get_settings.cache_clear()
    padding = supervisor.MAX_SOCKET_PATH + over - socket_path_length() - len("/")
    monkeypatch.setenv("PLAYDECK_DATA_DIR", str(base / ("d" * padding)))
    get_settings.cache_clear()
    assert socket_path_length() == supervisor.MAX_SOCKET_PATH + over
    assert supervisor.MAX_SOCKET_PATH + len(".4194304") <= 107

    if over:
        with pytest.raises(PlaydeckError, match="longer than a unix socket allows"):
            supervisor.render_config(get_settings())
    else:
        assert "supervisor.sock" in supervisor.render_config(get_settings())


def test_supervisord_runs_every_program_and_stops_them_all(playdeck_up: SupervisedPlaydeck) -> None:
    infos = playdeck_up.rpc.supervisor.getAllProcessInfo()

    assert {info["name"]: info["statename"] for info in infos} == dict.fromkeys(supervisor.PROGRAMS, "RUNNING")
    # The workers must be Celery itself (exec'd), so that supervisord's TERM reaches the Celery master.
    for info in infos:
        if info["name"] in WORKERS:
            assert "celery" in " ".join(psutil.Process(info["pid"]).cmdline())
    # The fixture's teardown stops supervisord and fails the test if any of these processes is left.


@pytest.fixture
def no_secrets_key(monkeypatch: pytest.MonkeyPatch) -> None:
    use_key(monkeypatch, None)


def test_the_quick_start_makes_a_secrets_key_and_keeps_every_file_its_users_only(
    no_secrets_key: None, playdeck_up: SupervisedPlaydeck
) -> None:
    data_dir = playdeck_up.layout.supervisor_dir.parent
    expected = ["playdeck.db", "cli-token", "admin-password", "secret-key", "log/playdeck-web.log",
                "log/playdeck-worker-deploy.log"]  # fmt: skip
    assert all((data_dir / name).is_file() for name in expected)
    # With that key the quick start stores secrets (without one: 503).
    answer = requests.put(
        f"{playdeck_up.url}/api/v1/projects/sampleapp/secrets/become_password",
        json={"value": "s3cret"},
        headers=api_headers(),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert "s3cret" not in answer.text

    entries = [data_dir, *data_dir.rglob("*")]
    # Not even read access for the group or others: the DB, the logs, the token, the broker's messages...
    exposed = [f"{path} {stat.S_IMODE(path.lstat().st_mode):o}" for path in entries if path.lstat().st_mode & 0o077]
    assert exposed == []
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "playdeck.db").stat().st_mode) == 0o600
