"""`playdeck env set` routes an environment's runs to a queue and stores its SSH known hosts, audited."""

from __future__ import annotations

import json
import subprocess

import pytest

from playdeck import audit, db
from playdeck.errors import Conflict
from playdeck.runs.requests import RunRequest, request_run
from tests.cli.cli_support import playdeck


def queue_of_new_run(environment: str = "staging") -> str:
    with db.session_scope() as session:
        return request_run(session, RunRequest(project="sampleapp", environment=environment)).queue


def test_env_set_queue_routes_new_runs_and_default_queue_undoes_it(embedded):
    routed = playdeck("env", "set", "sampleapp", "staging", "--queue", "dc2")
    assert routed.returncode == 0, routed.stderr
    assert json.loads(routed.stdout)["queue"] == "dc2"
    assert queue_of_new_run() == "dc2"
    assert queue_of_new_run("production") == "deploy"  # only that environment

    assert playdeck("env", "set", "sampleapp", "staging", "--default-queue").returncode == 0
    assert queue_of_new_run() == "deploy"
    with db.session_scope() as session:
        events, _more = audit.list_events(session, audit.AuditFilters(action="environment.update"))
        changes = [event.details for event in events]
    assert {"before": {"queue": None}, "after": {"queue": "dc2"}} in changes


def test_env_set_known_hosts_stores_checked_lines(embedded, tmp_path):
    key = tmp_path / "host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    known_hosts = tmp_path / "known_hosts"
    key_type, key_text = (tmp_path / "host_key.pub").read_text().split()[:2]
    known_hosts.write_text(f"# web servers\n\n10.0.0.5 {key_type} {key_text}\n")

    stored = playdeck("env", "set", "sampleapp", "production", "--known-hosts-file", str(known_hosts))

    assert stored.returncode == 0, stored.stderr
    assert json.loads(stored.stdout)["known_hosts_entries"] == 1
    shown = playdeck("env", "show", "sampleapp", "production", "--known-hosts")
    assert shown.stdout.startswith("10.0.0.5 ssh-ed25519 AAAA") and "# web servers" not in shown.stdout


def test_env_set_refuses_bad_input_with_exit_2(embedded, tmp_path):
    bad_line = tmp_path / "known_hosts"
    bad_line.write_text("10.0.0.5 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB\n10.0.0.6 ssh-ed25519\n")
    cases = [
        (["--queue", "dc 2"], "queue: must be 1-64 letters"),
        (["--known-hosts-file", str(bad_line)], "known_hosts: line 1: the key is not base64"),
        ([], "nothing to change"),
        (["--queue", "dc2", "--default-queue"], "exclude each other"),
    ]
    for options, message in cases:
        result = playdeck("env", "set", "sampleapp", "staging", *options)
        assert result.returncode == 2 and message in result.stderr, (options, result.stderr)
    unknown = playdeck("env", "set", "sampleapp", "qa", "--queue", "dc2")
    assert unknown.returncode == 2 and "has no environment 'qa'" in unknown.stderr
    assert queue_of_new_run() == "deploy"


def test_env_set_requires_success_in_holds_deploys_to_what_succeeded_there(embedded):
    required = playdeck("env", "set", "sampleapp", "production", "--requires-success-in", "staging")
    assert required.returncode == 0, required.stderr
    assert json.loads(required.stdout)["requires_success_in"] == "staging"
    with db.session_scope() as session:
        refused = pytest.raises(Conflict, request_run, session, RunRequest("sampleapp", "production", version="9.0"))
    assert "version 9.0 has no successful deploy in staging" in refused.value.message
    for options, message in (
        (["--requires-success-in", "production"], "production cannot require success in itself"),
        (["--requires-success-in", "qa"], "has no environment 'qa'"),
        (["--requires-success-in", "staging", "--no-requires-success-in"], "exclude each other"),
    ):
        result = playdeck("env", "set", "sampleapp", "production", *options)
        assert result.returncode == 2 and message in result.stderr, (options, result.stderr)

    dropped = playdeck("env", "set", "sampleapp", "production", "--no-requires-success-in")
    assert dropped.returncode == 0 and json.loads(dropped.stdout)["requires_success_in"] is None
    assert queue_of_new_run("production") == "deploy"  # recorded: no rule any more
