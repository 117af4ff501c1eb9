"""The sample project's playbook, run for real through ansible-runner against its own inventories."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import ansible_runner
import pytest

from playdeck.settings import SOURCE_ROOT

PLAYBOOK = SOURCE_ROOT / "playbooks" / "sampleapp" / "deploy.yml"
INVENTORY_DIR = SOURCE_ROOT / "inventory" / "sampleapp"


@pytest.fixture(autouse=True)
def _ansible_of_this_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    # ansible-runner finds ansible-playbook on PATH; the venv may not be activated (as `playdeck worker` does).
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))


class SampleDeploy:
    def __init__(self, tmp_path: Path, environment: str = "staging") -> None:
        self.environment = environment
        self.apps_dir = tmp_path / "apps"
        self.runner_dir = tmp_path / "runner"
        self.runs = 0

    def host_dir(self, host: str) -> Path:
        return self.apps_dir / "sampleapp" / self.environment / host

    def releases(self, host: str) -> list[str]:
        return sorted(path.name for path in (self.host_dir(host) / "releases").iterdir())

    def current(self, host: str) -> str:
        return os.readlink(self.host_dir(host) / "current")

    def __call__(self, version: str, check: bool = False, limit: str | None = None, **extra: Any):
        self.runs += 1
        # One private dir per run, as Playdeck's runner does: ansible-runner leaves files in env/ (the
        # cmdline among them) that a later run in the same dir would pick up.
        private_data_dir = self.runner_dir / f"run{self.runs}"
        private_data_dir.mkdir(parents=True)
        return ansible_runner.run(
            private_data_dir=str(private_data_dir),
            playbook=str(PLAYBOOK),
            inventory=str(INVENTORY_DIR / f"{self.environment}.ini"),
            extravars={
                "playdeck_version": version,
                "playdeck_apps_dir": str(self.apps_dir),
                "playdeck_project": "sampleapp",
                "playdeck_environment": self.environment,
                "playdeck_run_id": self.runs,
                **extra,
            },
            cmdline="--check" if check else None,
            limit=limit,
            quiet=True,
            # Without a cancel_callback ansible-runner takes over this process's SIGTERM/SIGINT handling.
            cancel_callback=lambda: False,
        )


def changed(result) -> dict[str, int]:
    return result.stats["changed"]


def failures(result) -> dict[str, int]:
    return result.stats["failures"]


def test_two_versions_release_switch_and_keep_the_newest(tmp_path: Path) -> None:
    deploy = SampleDeploy(tmp_path)

    first = deploy("1.0.0", keep_releases=2)
    assert first.status == "successful", first.stdout.read()
    second = deploy("2.0.0", keep_releases=2)
    assert second.status == "successful", second.stdout.read()

    for host in ("web1", "web2"):
        assert deploy.releases(host) == ["1.0.0", "2.0.0"]
        assert deploy.current(host) == "releases/2.0.0"
        current = deploy.host_dir(host) / "current"
        assert (current / "VERSION").read_text() == "2.0.0\n"
        health = subprocess.run([current / "bin" / "health"], capture_output=True, text=True, check=True)
        assert '"version": "2.0.0"' in health.stdout

    third = deploy("3.0.0", keep_releases=2)
    assert third.status == "successful", third.stdout.read()
    assert deploy.releases("web1") == ["2.0.0", "3.0.0"]
    assert deploy.current("web1") == "releases/3.0.0"


def test_redeploying_the_same_version_changes_nothing(tmp_path: Path) -> None:
    deploy = SampleDeploy(tmp_path, environment="production")
    assert deploy("1.4.2").status == "successful"

    again = deploy("1.4.2")

    assert again.status == "successful"
    assert changed(again) == {}
    assert sorted(again.stats["ok"]) == ["web1", "web2", "web3"]


def test_check_mode_reports_but_changes_nothing(tmp_path: Path) -> None:
    deploy = SampleDeploy(tmp_path)
    never_deployed = deploy("1.0.0", check=True, limit="web1")
    assert never_deployed.status == "successful", never_deployed.stdout.read()
    assert not deploy.apps_dir.exists()

    assert deploy("1.0.0", limit="web1").status == "successful"
    checked = deploy("2.0.0", check=True, limit="web1")

    assert checked.status == "successful", checked.stdout.read()
    assert changed(checked)["web1"] > 0
    assert deploy.releases("web1") == ["1.0.0"]
    assert deploy.current("web1") == "releases/1.0.0"


def test_failed_health_check_rolls_back_and_fails(tmp_path: Path) -> None:
    deploy = SampleDeploy(tmp_path)
    assert deploy("1.0.0", limit="web1").status == "successful"

    broken = deploy("1.1.0", limit="web1", sampleapp_fail_health=True)

    assert broken.status == "failed"
    assert failures(broken) == {"web1": 1}
    assert broken.stats["rescued"] == {"web1": 1}
    assert deploy.current("web1") == "releases/1.0.0"
    assert deploy.releases("web1") == ["1.0.0"]


@pytest.mark.parametrize("version", ["../../etc", "1.0 ; id", ".hidden"])
def test_a_version_that_is_not_a_plain_name_is_refused(tmp_path: Path, version: str) -> None:
    deploy = SampleDeploy(tmp_path)

    result = deploy(version, limit="web1")

    assert result.status == "failed"
    assert not deploy.apps_dir.exists()


@pytest.mark.parametrize(
    "name",
    ["releases_dir", "release_dir", "current_link", "app_root", "app_environment", "app_project"],
)
def test_a_path_outside_the_apps_dir_is_refused(tmp_path: Path, name: str) -> None:
    """Extra vars outrank the play's own: passing a derived path (or another environment's name) must not
    move the deploy anywhere else."""
    deploy = SampleDeploy(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    value = "production" if name.startswith("app_") and name != "app_root" else str(elsewhere)

    result = deploy("1.0.0", limit="web1", **{name: value})

    assert result.status == "failed", result.stdout.read()
    assert "the app's paths" in result.stdout.read()
    assert not elsewhere.exists()
    assert not deploy.apps_dir.exists()
