"""playbooks/dns-zone-delete.yml run for real (ansible-runner) against a throwaway BIND."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ansible_runner
import pytest

from playdeck.settings import SOURCE_ROOT
from runners.playbook_run import ANSIBLE_BIN_DIR
from testing.dns_server import ThrowawayBind

PLAYBOOK = SOURCE_ROOT / "playbooks" / "dns-zone-delete.yml"
INVENTORY = SOURCE_ROOT / "inventory" / "dns" / "local.ini"
ZONE = "gone.test."
ZONE_TEXT = """\
$TTL 300
@ IN SOA ns1.gone.test. hostmaster.gone.test. 2026112701 3600 600 1209600 300
@ IN NS ns1.gone.test.
ns1 IN A 192.0.2.1
"""


def run_playbook(tmp_path: Path, bind: ThrowawayBind, zone: str = ZONE, **extra: Any):
    private = tmp_path / f"run-{len(list(tmp_path.glob('run-*')))}"
    private.mkdir()
    return ansible_runner.run(
        private_data_dir=str(private),
        playbook=str(PLAYBOOK),
        inventory=str(INVENTORY),
        extravars={
            "dns_zone": zone,
            "dns_zone_dir": str(bind.zone_dir),
            "dns_server": "127.0.0.1",
            "dns_port": bind.port,
            "dns_rndc_conf": str(bind.rndc_conf),
            **extra,
        },
        envvars={"PATH": f"{ANSIBLE_BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}"},
        quiet=True,
        cancel_callback=lambda: False,
    )


def failures(result) -> list[str]:
    return [
        str(event["event_data"]["res"].get("msg"))
        for event in result.events
        if event.get("event") == "runner_on_failed"
    ]


def add_zone(bind: ThrowawayBind) -> Path:
    """A zone as the zone playbook leaves it: its file (and the previous version), added with rndc."""
    path = bind.zone_dir / "gone.test.zone"
    path.write_text(ZONE_TEXT)
    path.with_name("gone.test.zone.prev").write_text(ZONE_TEXT)
    added = bind.rndc("addzone", "gone.test", f'{{ type primary; file "{path}"; }};')
    assert added.returncode == 0, added.stderr
    return path


def test_the_zone_is_deleted_no_longer_served_and_its_file_set_aside(tmp_path, bind_server):
    path = add_zone(bind_server)
    assert bind_server.soa_serial(ZONE) == 2026112701

    result = run_playbook(tmp_path, bind_server)

    assert result.status == "successful", failures(result)
    assert bind_server.soa_serial(ZONE) is None
    assert bind_server.rndc("zonestatus", "gone.test").returncode != 0
    assert not path.exists() and not path.with_name("gone.test.zone.prev").exists()
    assert path.with_name("gone.test.zone.deleted").read_text() == ZONE_TEXT
    # Again (a retried run): BIND no longer knows the zone, which is what we want.
    assert run_playbook(tmp_path, bind_server).status == "successful"
    assert path.with_name("gone.test.zone.deleted").read_text() == ZONE_TEXT


def test_a_zone_bind_never_had_is_removed_already(tmp_path, bind_server):
    assert run_playbook(tmp_path, bind_server).status == "successful"


def test_a_parent_zone_served_by_the_same_server_does_not_count(tmp_path, bind_server):
    parent = bind_server.zone_dir / "test.zone"
    parent.write_text(ZONE_TEXT.replace("gone.test.", "test."))
    assert bind_server.rndc("addzone", "test", f'{{ type primary; file "{parent}"; }};').returncode == 0
    add_zone(bind_server)

    assert run_playbook(tmp_path, bind_server).status == "successful"
    assert bind_server.soa_serial(ZONE) is None and bind_server.soa_serial("test.") == 2026112701


def test_bind_unreachable_fails_the_run_and_keeps_the_file(tmp_path, bind_server):
    path = add_zone(bind_server)
    broken = tmp_path / "rndc.conf"
    broken.write_text(bind_server.rndc_conf.read_text().replace(str(bind_server.control_port), "1"))

    result = run_playbook(tmp_path, bind_server, dns_rndc_conf=str(broken))

    assert result.status == "failed"
    assert bind_server.soa_serial(ZONE) == 2026112701 and path.exists()


@pytest.mark.parametrize("zone", ["../etc/passwd", "", "a b.test."])
def test_odd_zone_names_are_refused(tmp_path, bind_server, zone):
    result = run_playbook(tmp_path, bind_server, zone=zone)
    assert result.status == "failed" and any("dns_zone" in message for message in failures(result))
