"""playbooks/dns-zone.yml run for real (ansible-runner) against a throwaway BIND, checked with dnspython."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import ansible_runner
import dns.rdatatype
import pytest

from playdeck.dns import zonefile
from playdeck.settings import SOURCE_ROOT
from runners.playbook_run import ANSIBLE_BIN_DIR
from testing.dns_server import ThrowawayBind
from tests.conftest import free_port
from tests.dns.test_zonefile import RECORDS, SERIAL, ZONE, make_export

PLAYBOOK = SOURCE_ROOT / "playbooks" / "dns-zone.yml"
INVENTORY = SOURCE_ROOT / "inventory" / "dns" / "local.ini"
ZONE_NAME = ZONE.rstrip(".")
ZONE_TASK = "Render, validate, install and load the zone, and verify BIND serves it"

Record = tuple[str, str, int, str]


class ZonePlaybook:
    """Runs the playbook as a regeneration run does: the export in a JSON file, BIND's places as extra vars."""

    def __init__(self, tmp_path: Path, bind: ThrowawayBind) -> None:
        self.tmp_path = tmp_path
        self.bind = bind
        self.runs = 0

    @property
    def zone_file(self) -> Path:
        return self.bind.zone_dir / f"{ZONE_NAME}.zone"

    def __call__(self, export: dict[str, Any], *, rndc: str = "conf", check: bool = False, **extra: Any):
        self.runs += 1
        run_dir = self.tmp_path / f"run{self.runs}"
        (run_dir / "private").mkdir(parents=True)
        export_file = run_dir / "zone-export.json"
        export_file.write_text(json.dumps(export))
        if rndc == "conf":
            rndc_vars = {"dns_rndc_conf": str(self.bind.rndc_conf)}
        else:
            rndc_vars = {
                "dns_rndc_key": str(self.bind.rndc_key),
                "dns_rndc_server": "127.0.0.1",
                "dns_rndc_port": self.bind.control_port,
            }
        return ansible_runner.run(
            # A fresh private dir per run, as Playdeck's runner does.
            private_data_dir=str(run_dir / "private"),
            playbook=str(PLAYBOOK),
            inventory=str(INVENTORY),
            extravars={
                "dns_export_file": str(export_file),
                "dns_zone_dir": str(self.bind.zone_dir),
                "dns_server": "127.0.0.1",
                "dns_port": self.bind.port,
                **rndc_vars,
                **extra,
            },
            cmdline="--check" if check else None,
            # The ansible-playbook beside this interpreter, as runners/playbook_run.py finds it.
            envvars={"PATH": f"{ANSIBLE_BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}"},
            quiet=True,
            # Without a cancel_callback ansible-runner takes over this process's SIGTERM/SIGINT handling.
            cancel_callback=lambda: False,
        )


@pytest.fixture
def playbook(tmp_path: Path, bind_server: ThrowawayBind) -> ZonePlaybook:
    return ZonePlaybook(tmp_path, bind_server)


def exported(export: dict[str, Any]) -> set[Record]:
    return {(record["name"], record["type"], record["ttl"], record["value"]) for record in export["records"]}


def served(bind: ThrowawayBind) -> set[Record]:
    """Every record BIND serves in the zone but the SOA, by AXFR, in the export's terms."""
    zone = bind.transfer(ZONE)
    return {
        (name.relativize(zone.origin).to_text(), dns.rdatatype.to_text(rdataset.rdtype), rdataset.ttl, rdata.to_text())
        for name, node in zone.nodes.items()
        for rdataset in node
        for rdata in rdataset
        if rdataset.rdtype != dns.rdatatype.SOA
    }


def output(result) -> str:
    return result.stdout.read()


def changed_tasks(result) -> list[str]:
    return [
        event["event_data"]["task"]
        for event in result.events
        if event["event"] == "runner_on_ok" and event["event_data"]["res"].get("changed")
    ]


def zone_result(result) -> dict[str, Any]:
    """What the zone task returned (ok or failed)."""
    (res,) = [
        event["event_data"]["res"]
        for event in result.events
        if event["event"] in ("runner_on_ok", "runner_on_failed") and event["event_data"]["task"] == ZONE_TASK
    ]
    return res


def failure(result) -> str:
    """'<task>: <message>' of the task that failed the run."""
    failed = [event["event_data"] for event in result.events if event["event"] == "runner_on_failed"]
    assert len(failed) == 1, output(result)
    return f"{failed[0]['task']}: {failed[0]['res'].get('msg')}"


def zone_dir_files(bind: ThrowawayBind) -> list[str]:
    return sorted(path.name for path in bind.zone_dir.iterdir())


def test_a_new_zone_is_added_and_served_exactly(playbook: ZonePlaybook, bind_server: ThrowawayBind) -> None:
    export = make_export()

    result = playbook(export)

    assert result.status == "successful", output(result)
    assert bind_server.soa_serial(ZONE) == SERIAL
    assert served(bind_server) == exported(export)
    assert changed_tasks(result) == [ZONE_TASK]
    assert zone_result(result)["loaded"] == "added"
    assert zone_result(result)["served_serial"] == SERIAL
    assert "invocation" not in zone_result(result)  # done by the action plugin, no module started
    assert playbook.zone_file.read_text() == zonefile.render(export)
    assert zone_dir_files(bind_server) == [f"{ZONE_NAME}.zone"]


def test_a_changed_export_is_served_exactly(playbook: ZonePlaybook, bind_server: ThrowawayBind) -> None:
    first = make_export()
    assert playbook(first).status == "successful"
    records = [record for record in RECORDS if record[0] != "www-alias"] + [("api", "AAAA", 300, "2001:db8::443")]
    second = make_export(records, serial=SERIAL + 1)

    result = playbook(second, rndc="key")  # rndc -k KEY -s SERVER -p PORT this time

    assert result.status == "successful", output(result)
    assert bind_server.soa_serial(ZONE) == SERIAL + 1
    assert served(bind_server) == exported(second)
    assert changed_tasks(result) == [ZONE_TASK]
    assert zone_result(result)["loaded"] == "reloaded"
    assert (bind_server.zone_dir / f"{ZONE_NAME}.zone.prev").read_text() == zonefile.render(first)


def test_a_refused_export_fails_with_the_checkers_message_and_changes_nothing(
    playbook: ZonePlaybook, bind_server: ThrowawayBind
) -> None:
    good = make_export()
    assert playbook(good).status == "successful"
    installed = playbook.zone_file.read_text()
    refused = {
        "CNAME beside other data": (
            make_export([*RECORDS, ("www", "CNAME", 300, f"mail.{ZONE}")], SERIAL + 1),
            ["named-checkzone rejected the zone", "www.example.test: CNAME and other data", "dnspython rejected"],
        ),
        "MX to a name without an address": (
            make_export([*RECORDS, ("@", "MX", 3600, f"20 nowhere.{ZONE}")], SERIAL + 1),
            ["named-checkzone rejected the zone", "nowhere.example.test", "has no address records"],
        ),
        "a newline starting a directive": (
            make_export([*RECORDS, ("www", "TXT", 300, '"x"\n$INCLUDE /etc/passwd')], SERIAL + 1),
            ["the zone export was refused", "has a control character"],
        ),
        "an older serial": (
            make_export(RECORDS[:3], SERIAL - 1),
            ["serial 2026112700 is not newer than the installed serial 2026112701"],
        ),
    }

    for case, (export, messages) in refused.items():
        result = playbook(export)

        assert result.status == "failed", f"{case}: {output(result)}"
        message = failure(result)
        assert message.startswith(f"{ZONE_TASK}: "), f"{case}: {message}"
        for expected in messages:
            assert expected in message, f"{case}: {message}"
        assert playbook.zone_file.read_text() == installed, case
        assert zone_dir_files(bind_server) == [f"{ZONE_NAME}.zone"], case  # no temporary file left
        assert bind_server.soa_serial(ZONE) == SERIAL, case
        assert served(bind_server) == exported(good), case


def test_the_same_export_twice_changes_nothing(playbook: ZonePlaybook, bind_server: ThrowawayBind) -> None:
    export = make_export()
    assert playbook(export).status == "successful"
    modified = playbook.zone_file.stat().st_mtime_ns

    result = playbook(export)

    assert result.status == "successful", output(result)
    assert changed_tasks(result) == []
    assert zone_result(result)["loaded"] == "up-to-date"
    assert playbook.zone_file.stat().st_mtime_ns == modified
    assert zone_dir_files(bind_server) == [f"{ZONE_NAME}.zone"]
    assert bind_server.soa_serial(ZONE) == SERIAL
    assert served(bind_server) == exported(export)


def test_check_mode_validates_and_installs_nothing(playbook: ZonePlaybook, bind_server: ThrowawayBind) -> None:
    result = playbook(make_export(), check=True)

    assert result.status == "successful", output(result)
    assert changed_tasks(result) == [ZONE_TASK]  # it would install and add the zone
    assert zone_dir_files(bind_server) == []
    assert "not found" in bind_server.rndc("zonestatus", ZONE_NAME).stderr

    refused = playbook(make_export([*RECORDS, ("www", "CNAME", 300, f"mail.{ZONE}")]), check=True)

    assert refused.status == "failed"
    assert "dnspython rejected the zone" in failure(refused)
    assert zone_dir_files(bind_server) == []


def test_a_zone_bind_loads_from_another_file_is_reported(
    playbook: ZonePlaybook, bind_server: ThrowawayBind, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.zone"
    elsewhere.write_text(zonefile.render(make_export(serial=1)))
    added = bind_server.rndc("addzone", ZONE_NAME, f'{{ type primary; file "{elsewhere}"; }};')
    assert added.returncode == 0, added.stderr

    result = playbook(make_export())

    assert result.status == "failed"
    message = failure(result)
    assert f"BIND loads {ZONE_NAME} from {elsewhere}, not from {playbook.zone_file}" in message, message


def test_a_zone_not_served_after_loading_fails_the_run(playbook: ZonePlaybook, bind_server: ThrowawayBind) -> None:
    # Queries go to a port nobody answers: BIND loads the zone, the verification cannot see it.
    result = playbook(make_export(), dns_port=free_port(), dns_verify_seconds=2)

    assert result.status == "failed"
    message = failure(result)
    assert message.startswith(f"{ZONE_TASK}: the DNS server at 127.0.0.1:"), message
    assert f"does not serve {ZONE} with serial {SERIAL}" in message
    assert "does not answer" in message


def test_the_module_alone_does_the_same(tmp_path: Path, bind_server: ThrowawayBind) -> None:
    """On a local connection the action plugin does the work in Ansible's process; elsewhere (become,
    another connection) the module runs: here by itself, ad hoc, where no action plugin is looked for."""
    export_file = tmp_path / "zone-export.json"
    export_file.write_text(json.dumps(make_export()))
    (tmp_path / "private").mkdir()

    result = ansible_runner.run(
        private_data_dir=str(tmp_path / "private"),
        host_pattern="dns",
        module="playdeck_dns_zone",
        module_args=" ".join(
            f"{key}={value}"
            for key, value in {
                "export_file": export_file,
                "zone_dir": bind_server.zone_dir,
                "rndc_conf": bind_server.rndc_conf,
                "port": bind_server.port,
            }.items()
        ),
        inventory=str(INVENTORY),
        envvars={
            "PATH": f"{ANSIBLE_BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_LIBRARY": str(PLAYBOOK.parent / "library"),
        },
        quiet=True,
        cancel_callback=lambda: False,
    )

    assert result.status == "successful", output(result)
    (ok,) = [event["event_data"]["res"] for event in result.events if event["event"] == "runner_on_ok"]
    assert ok["changed"] and ok["loaded"] == "added" and ok["served_serial"] == SERIAL
    assert ok["invocation"]["module_args"]["zone_dir"] == str(bind_server.zone_dir)  # AnsibleModule's
    assert served(bind_server) == exported(make_export())


def test_rndc_failures_fail_the_run(playbook: ZonePlaybook, bind_server: ThrowawayBind) -> None:
    bind_server.stop()

    result = playbook(make_export())

    assert result.status == "failed"
    message = failure(result)
    assert message.startswith(f"{ZONE_TASK}: rndc zonestatus {ZONE_NAME} failed (exit 1): "), message
    assert "connection refused" in message
