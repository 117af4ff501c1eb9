"""The security review's attacks (issue #20), sent over HTTP to the stack as production runs it: `playdeck up`
(supervisord: gunicorn web, Celery workers, reaper) on MariaDB + Redis, PLAYDECK_SECRET_KEY in the environment
and in a key file, a vault password and a become password stored for the projects. A developer (granted the
projects) and a release manager attack with their API tokens:

- ``{{ lookup('pipe', 'touch MARKER') }}`` in extra vars, nested too, of a project that takes free extra vars:
  the run ends, no marker appears, the value arrives as text. In the sample's keep_releases: 400.
- a playbook (tests/playbooks/exfiltrate.yml) that reads the key, the platform's credentials, the data dir and
  every run's private files, prints all of it encoded and fails with it: no secret of the platform, in any
  encoding, is in its events, its reason, any artifact under runs/ or any answer the attackers can get.
- the built-in dns project with dns_rndc, a limit "@deploy.yml": 400, nothing queued.

One `playdeck up` for the module; the runs of both attackers go at the same time. With
PLAYDECK_RUN_SANDBOX=none in the environment the exfiltration tests fail: the playbook finds the key.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets as random
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, unquote_plus

import pytest
import requests
from cryptography.fernet import Fernet

from playdeck import db, models, projects
from playdeck.dns import scheduling
from playdeck.masking import REDACTED
from playdeck.settings import get_settings
from testing.servers import REPO_ROOT
from tests.cli.cli_support import wait_until
from tests.cli.conftest import supervise
from tests.conftest import (
    TERMINAL,
    bearer,
    configure,
    fresh_mariadb_database,
    leased_redis_db,
    make_user,
)

ROLES = ("developer", "release_manager")
ENVIRONMENT = "staging"
# A project over tests/playbooks/echo_vars.yml (no launch form: free extra vars) and the attacker's playbook.
ECHO, EXFILTRATE = "echo", "exfiltrate"
DNS_ZONE = "example.test"
RUN_SECONDS = 120


def pipe(command: str) -> str:
    """The review's payload: runs ``command`` on the worker host as soon as Ansible templates the value."""
    return "{{ lookup('pipe', '" + command + "') }}"


@dataclass
class Stack:
    """The running install, what the attackers hold and what they must never get."""

    url: str
    admin: dict[str, str]
    attackers: dict[str, dict[str, str]]
    data_dir: Path
    out_dir: Path
    key_file: Path
    # What must not reach an attacker in any form: the secrets key, the stored passwords, the credentials.
    secrets: dict[str, str]
    runs: dict[str, dict[str, int]] = field(default_factory=dict)
    canaries: dict[str, str] = field(default_factory=dict)

    def get(self, path: str, headers: dict[str, str]) -> requests.Response:
        return requests.get(f"{self.url}{path}", headers=headers, timeout=30)

    def launch(self, headers: dict[str, str], body: dict) -> requests.Response:
        return requests.post(f"{self.url}/api/v1/runs", json=body, headers=headers, timeout=30)

    def run(self, run_id: int) -> dict:
        return self.get(f"/api/v1/runs/{run_id}", self.admin).json()

    def run_ids(self) -> list[int]:
        return [run["id"] for run in self.get("/api/v1/runs?per_page=200", self.admin).json()["runs"]]

    def wait_ended(self, run_ids: list[int]) -> None:
        def ended() -> bool:
            return all(self.run(run_id)["state"] in TERMINAL for run_id in run_ids)

        wait_until(ended, RUN_SECONDS, f"runs {run_ids} to end", interval=0.5)


def playbooks_and_inventories(tmp: Path) -> tuple[Path, Path]:
    """The shipped playbooks (the sample, dns) and inventories, with the tests' echo and attacker's playbooks:
    projects' files must all be in one playbook dir."""
    playbooks, inventories = tmp / "playbooks", tmp / "inventory"
    shutil.copytree(REPO_ROOT / "playbooks", playbooks)
    shutil.copytree(REPO_ROOT / "inventory", inventories)
    for name in ("echo_vars.yml", "exfiltrate.yml"):
        shutil.copy(REPO_ROOT / "tests" / "playbooks" / name, playbooks)
    shutil.copy(REPO_ROOT / "tests" / "inventory" / "local2.ini", inventories)
    return playbooks, inventories


def register_projects() -> None:
    with db.session_scope() as session:
        projects.add_project(session, ECHO, "echo_vars.yml", {ENVIRONMENT: "local2.ini"}, lock_deploys=False)
        projects.add_project(session, EXFILTRATE, "exfiltrate.yml", {ENVIRONMENT: "local2.ini"}, lock_deploys=False)
        # The built-in project with a zone's environment, as a zone's first regeneration leaves it.
        dns = scheduling.dns_project(session)
        session.add(models.Environment(project_id=dns.id, name=DNS_ZONE, inventory=get_settings().dns_inventory))


def store_secrets(stack: Stack) -> None:
    """As an admin does it: through the API."""
    for project in (ECHO, EXFILTRATE):
        for kind in ("vault_password", "become_password"):
            url = f"{stack.url}/api/v1/projects/{project}/secrets/{kind}"
            answer = requests.put(url, json={"value": stack.secrets[kind]}, headers=stack.admin, timeout=30)
            assert answer.status_code == 200, answer.text


@contextmanager
def production_stack(tmp: Path, mariadb_server: str) -> Iterator[Stack]:
    secret_key = Fernet.generate_key().decode()
    key_file = tmp / "etc" / "secret-key"
    key_file.parent.mkdir()
    key_file.write_text(secret_key + "\n")
    key_file.chmod(0o600)
    out_dir = tmp / "out"  # where runs may write (PLAYDECK_RUN_WRITABLE_PATHS): the markers would land here
    out_dir.mkdir()
    playbooks, inventories = playbooks_and_inventories(tmp)
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        fresh_mariadb_database(mariadb_server) as database_url,
        leased_redis_db() as broker_url,
    ):
        monkeypatch.setenv("PLAYDECK_SECRET_KEY", secret_key)
        monkeypatch.setenv("PLAYDECK_SECRET_KEY_FILE", str(key_file))
        monkeypatch.setenv("PLAYDECK_RUN_WRITABLE_PATHS", str(out_dir))
        monkeypatch.setenv("PLAYDECK_WORKER_CONCURRENCY", "4")
        settings = configure(
            monkeypatch,
            data_dir=str(tmp / "d"),  # short: supervisord's socket is in it
            database_url=database_url,
            broker_url=broker_url,
            playbook_dir=str(playbooks),
            inventory_dir=str(inventories),
        )
        register_projects()
        attackers = {
            "developer": bearer(make_user("dev", "developer", projects=(ECHO, EXFILTRATE, "sampleapp"))),
            "release_manager": bearer(make_user("rm", "release_manager")),
        }
        secrets = {
            "PLAYDECK_SECRET_KEY": secret_key,
            "vault_password": f"vault/{random.token_urlsafe(12)}+pw",
            "become_password": f"become/{random.token_urlsafe(12)}+pw",
            "PLAYDECK_DATABASE_URL": database_url,
            "PLAYDECK_TOKEN": os.environ["PLAYDECK_TOKEN"],  # the admin's
        }
        with contextmanager(supervise)(monkeypatch, tmp) as supervised:
            admin = bearer(os.environ["PLAYDECK_TOKEN"])
            stack = Stack(supervised.url, admin, attackers, settings.data_dir, out_dir, key_file, secrets)
            store_secrets(stack)
            yield stack


def launch_all(stack: Stack, project: str, bodies: dict[str, dict]) -> dict[str, int]:
    """Each attacker's run at once; returns their ids once all have ended."""
    launched = {}
    for role, body in bodies.items():
        answer = stack.launch(stack.attackers[role], {"project": project, "environment": ENVIRONMENT, **body})
        assert answer.status_code == 201, answer.text
        launched[role] = answer.json()["id"]
    stack.wait_ended(list(launched.values()))
    return launched


def templated_values(markers: Path) -> dict:
    def touch(name: str) -> str:
        return pipe(f"touch {markers / name}")

    return {
        "plain": touch("plain"),
        "in_list": ["ok", touch("list"), [touch("nested-list")]],
        "in_dict": {"k": touch("dict"), "deeper": {"k": touch("nested-dict")}},
        touch("key"): "a key",
        "statement": "{% if lookup('pipe', 'touch " + str(markers / "statement") + "') %}x{% endif %}",
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, mariadb_server: str) -> Iterator[Stack]:
    """The install, after both attackers ran the echo project (a canary in their extra vars, templates in the
    value it echoes) and then, while those runs' files are on disk, the attacker's playbook."""
    with production_stack(tmp_path_factory.mktemp("attacks"), mariadb_server) as running:
        markers = running.out_dir / "markers"
        for role in ROLES:  # a template that ran would create its marker here
            (markers / role).mkdir(parents=True)
        running.canaries = {role: f"canary-{random.token_hex(16)}" for role in ROLES}
        echo = {
            role: {
                "extra_vars": {
                    "launched": templated_values(markers / role),
                    "echo_file": str(running.out_dir / f"{role}.json"),
                    "note": running.canaries[role],
                }
            }
            for role in ROLES
        }
        running.runs[ECHO] = launch_all(running, ECHO, echo)
        snoop = {"extra_vars": {"snoop_key_file": str(running.key_file), "snoop_data_dir": str(running.data_dir)}}
        running.runs[EXFILTRATE] = launch_all(running, EXFILTRATE, dict.fromkeys(ROLES, {**snoop, "limit": "host1"}))
        yield running


# --- Finding a secret in any encoding ------------------------------------------------------------------------

BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}")
HEX_RUN = re.compile(r"[0-9a-fA-F]{8,}")


def decoded_runs(text: str, pattern: re.Pattern[str], width: int, decode) -> Iterator[str]:
    """Every run of ``pattern`` in the text decoded from each of its first ``width`` characters (the encoded
    value may start anywhere in a run: ``"x" ~ secret | b64encode``)."""
    for run in pattern.findall(text):
        for shift in range(width):
            chunk = run[shift:]
            yield decode(chunk[: len(chunk) // width * width]).decode("latin-1")


def views(text: str) -> Iterator[str]:
    """The text as it is and as each encoding one Jinja filter or shell command gives would decode it."""
    yield text
    yield text[::-1]
    yield unquote(text)
    yield unquote_plus(text)
    yield from decoded_runs(text, BASE64_RUN, 4, lambda chunk: base64.b64decode(chunk.translate(URLSAFE)))
    yield from decoded_runs(text, HEX_RUN, 2, bytes.fromhex)


URLSAFE = str.maketrans("-_", "+/")


def leaks(needles: dict[str, str], places: dict[str, str]) -> list[str]:
    found = []
    for where, text in places.items():
        decoded = list(views(text))
        found += [f"{what} in {where}" for what, needle in needles.items() if any(needle in view for view in decoded)]
    return found


# --- What an attacker can read -------------------------------------------------------------------------------


def events_text(stack: Stack, run_id: int, headers: dict[str, str]) -> str:
    """Every page of GET /api/v1/runs/ID/events, as answered."""
    pages, after = [], 0
    while True:
        answer = stack.get(f"/api/v1/runs/{run_id}/events?after={after}&limit=1000", headers)
        assert answer.status_code == 200, answer.text
        pages.append(answer.text)
        page = answer.json()
        if not page["events"]:
            return "\n".join(pages)
        after = page["next_after"]


def answers(stack: Stack, headers: dict[str, str]) -> dict[str, requests.Response]:
    """Every answer the attacker gets from the pages and the API about the install and each run, whatever its
    status (a refusal's text counts too)."""
    paths = [
        "/",
        "/runs",
        "/attention",
        "/api/v1/projects",
        "/api/v1/runs?per_page=200",
        "/api/v1/attention",
        "/api/v1/audit",
        "/metrics",
        *(f"/projects/{name}" for name in (ECHO, EXFILTRATE, "sampleapp")),
        *(f"/api/v1/projects/{name}/{what}" for name in (ECHO, EXFILTRATE) for what in ("secrets", "launch-form")),
    ]
    for run_id in stack.run_ids():
        api = f"/api/v1/runs/{run_id}"
        paths += [api, f"{api}/progress", f"{api}/explanation", f"/runs/{run_id}", f"/runs/{run_id}/log.txt"]
    return {path: stack.get(path, headers) for path in paths}


def artifacts(root: Path) -> dict[str, str]:
    """Every file a run left on disk, as text."""
    return {str(path): path.read_bytes().decode("latin-1") for path in sorted(root.rglob("*")) if path.is_file()}


# --- The attacks ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_templates_in_extra_vars_run_nothing_and_arrive_as_text(stack: Stack, role: str) -> None:
    run = stack.run(stack.runs[ECHO][role])

    assert run["state"] == "successful", run["reason"]
    # No marker of either attacker, after every run of the module has ended.
    assert [path.name for path in (stack.out_dir / "markers").rglob("*") if path.is_file()] == []
    sent = templated_values(stack.out_dir / "markers" / role)
    assert json.loads((stack.out_dir / f"{role}.json").read_text()) == sent


@pytest.mark.parametrize("role", ROLES)
def test_the_samples_form_refuses_a_template_in_keep_releases(stack: Stack, role: str) -> None:
    marker = stack.out_dir / f"keep-releases-{role}"
    before = stack.run_ids()

    answer = stack.launch(
        stack.attackers[role],
        {"project": "sampleapp", "environment": ENVIRONMENT, "extra_vars": {"keep_releases": pipe(f"touch {marker}")}},
    )

    assert (answer.status_code, answer.json()["field"]) == (400, "extra_vars"), answer.text
    assert "keep_releases" in answer.json()["error"]
    assert stack.run_ids() == before
    assert not marker.exists()


@pytest.mark.parametrize("role", ROLES)
def test_a_limit_naming_a_file_is_refused(stack: Stack, role: str) -> None:
    before = stack.run_ids()

    answer = stack.launch(
        stack.attackers[role], {"project": "sampleapp", "environment": ENVIRONMENT, "limit": "@deploy.yml"}
    )

    assert (answer.status_code, answer.json()["field"]) == (400, "limit"), answer.text
    assert stack.run_ids() == before


def test_a_release_manager_cannot_deploy_the_dns_project_with_dns_rndc(stack: Stack) -> None:
    before = stack.run_ids()
    extra_vars = {"dns_rndc": "/usr/bin/id", "dns_zone_dir": str(stack.out_dir)}

    answer = stack.launch(
        stack.attackers["release_manager"], {"project": "dns", "environment": DNS_ZONE, "extra_vars": extra_vars}
    )

    assert answer.status_code == 400, answer.text
    assert "is built in" in answer.json()["error"], answer.text
    assert stack.run_ids() == before


@pytest.mark.parametrize("role", ROLES)
def test_an_exfiltrating_run_gets_no_secret_out(stack: Stack, role: str) -> None:
    run_id = stack.runs[EXFILTRATE][role]
    run = stack.run(run_id)
    events = events_text(stack, run_id, stack.attackers[role])
    # It ran to its end and printed what it got: its own vault password (from its private dir), masked.
    assert run["state"] == "failed" and "Fail with it: got " in run["reason"], run["reason"]
    assert REDACTED in events

    left = {"events": events, "reason": run["reason"], **artifacts(stack.data_dir / "runs" / str(run_id))}
    # Nor did it read the other runs' files (the canaries in their extra vars).
    needles = {**stack.secrets, **{f"{other}'s canary": canary for other, canary in stack.canaries.items()}}
    assert leaks(needles, left) == []


def test_no_artifact_holds_a_secret(stack: Stack) -> None:
    assert leaks(stack.secrets, artifacts(stack.data_dir / "runs")) == []


@pytest.mark.parametrize("role", ROLES)
def test_no_answer_an_attacker_gets_holds_a_secret(stack: Stack, role: str) -> None:
    headers = stack.attackers[role]
    got = answers(stack, headers)
    texts = {path: answer.text for path, answer in got.items()}
    texts.update({f"/api/v1/runs/{run_id}/events": events_text(stack, run_id, headers) for run_id in stack.run_ids()})

    # The attacker reads every run: the check below covers what they see.
    assert [path for path, answer in got.items() if "runs/" in path and answer.status_code != 200] == []
    assert leaks(stack.secrets, texts) == []
