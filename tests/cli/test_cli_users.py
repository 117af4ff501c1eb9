"""`playdeck user` and `playdeck token`: accounts and API tokens made on the server's database, and what
they do at the real API (`playdeck web`); the first admin that `playdeck up` creates on a fresh install."""

from __future__ import annotations

import datetime as dt
import re
import stat
from pathlib import Path

import pytest
import requests
from sqlalchemy import update

from playdeck import audit, db
from playdeck.auth import credentials
from playdeck.auth.models import ApiToken
from playdeck.cli import UNAUTHENTICATED_HINT
from playdeck.cli.apiclient import CLI_TOKEN_FILE
from playdeck.cli.common import default_user
from playdeck.cli.services import ADMIN_PASSWORD_FILE
from playdeck.errors import Unauthenticated
from playdeck.models import utcnow
from playdeck.settings import get_settings
from tests.cli.cli_support import SupervisedPlaydeck, playdeck, tail
from tests.conftest import bearer

PASSWORD = "correct horse battery"


def table(output: str) -> dict[str, list[str]]:
    """A listing's rows by their first column (values contain no spaces)."""
    return {row.split()[0]: row.split() for row in output.splitlines()[1:]}


def create_token(user: str, *options: str) -> tuple[int, str]:
    result = playdeck("token", "create", user, *options)
    assert result.returncode == 0, result.stderr
    token_id = int(re.search(r"Token (\d+) of", result.stderr).group(1))
    return token_id, result.stdout.strip()


def status_with(url: str, token: str) -> int:
    return requests.get(f"{url}/api/v1/runs", headers=bearer(token), timeout=10).status_code


def logs_in(name: str, password: str) -> bool:
    with db.session_scope() as session:
        try:
            credentials.log_in(session, name, password, "tests")
        except Unauthenticated:
            return False
    return True


def test_user_add_reads_the_password_from_stdin_and_refuses_bad_input(embedded) -> None:
    added = playdeck("user", "add", "bob", "--role", "developer", input=f"{PASSWORD}\n")
    assert added.returncode == 0, added.stderr
    assert table(added.stdout)["bob"] == ["bob", "developer", "yes", "-", "-"]
    assert logs_in("bob", PASSWORD)

    again = playdeck("user", "add", "bob", "--role", "viewer", input=f"{PASSWORD}\n")
    assert again.returncode == 2 and "user 'bob' already exists" in again.stderr
    bad_role = playdeck("user", "add", "carol", "--role", "superuser", input=f"{PASSWORD}\n")
    assert bad_role.returncode == 2 and "--role" in bad_role.stderr
    short = playdeck("user", "add", "carol", "--role", "viewer", input="short\n")
    assert short.returncode == 2 and "password: must be 12 to 1024 characters" in short.stderr
    no_password = playdeck("user", "add", "carol", "--role", "viewer")  # stdin is empty
    assert no_password.returncode == 2 and "no password on stdin" in no_password.stderr
    bad_name = playdeck("user", "add", "carol smith", "--role", "viewer", "--no-password")
    assert bad_name.returncode == 2 and "name: must be" in bad_name.stderr

    token_only = playdeck("user", "add", "ci", "--role", "release_manager", "--no-password")
    assert token_only.returncode == 0, token_only.stderr
    assert "playdeck token create ci" in token_only.stdout
    assert not logs_in("ci", "")


def test_user_grant_set_and_list(embedded) -> None:
    assert playdeck("user", "add", "dev", "--role", "developer", "--no-password").returncode == 0

    granted = playdeck("user", "grant", "dev", "--project", "sampleapp", "--zone", "Example.Test", "--zone", "b.test")
    assert granted.returncode == 0, granted.stderr
    changed = playdeck("user", "set", "dev", "--role", "release_manager", "--inactive")
    assert changed.returncode == 0, changed.stderr

    listed = table(playdeck("user", "list").stdout)
    assert listed["dev"] == ["dev", "release_manager", "no", "sampleapp", "b.test.,example.test."]
    with db.session_scope() as session:  # audited as whoever ran the command, from the shell
        events, _ = audit.list_events(session, audit.AuditFilters(action="user.role"))
    assert [(event.actor, event.address, event.target) for event in events] == [(default_user(), "cli", "dev")]
    assert listed["admin"][:3] == ["admin", "admin", "yes"]  # the tests' own admin
    unknown_project = playdeck("user", "grant", "dev", "--project", "nope")
    assert unknown_project.returncode == 2 and "project 'nope' does not exist" in unknown_project.stderr
    unknown_user = playdeck("user", "set", "nobody", "--active")
    assert unknown_user.returncode == 2 and "user 'nobody' does not exist" in unknown_user.stderr
    nothing = playdeck("user", "set", "dev")
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr


def test_a_token_authenticates_until_it_is_revoked(web_api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert playdeck("user", "add", "carol", "--role", "viewer", "--no-password").returncode == 0
    token_id, token = create_token("carol", "--name", "laptop")
    assert re.fullmatch(r"pdt_[A-Za-z0-9_-]{40,}", token)  # alone on stdout: TOKEN=$(playdeck token create …)

    assert status_with(web_api, token) == 200
    monkeypatch.setenv("PLAYDECK_TOKEN", token)
    assert playdeck("runs").returncode == 0
    listed = playdeck("token", "list", "carol")
    assert listed.returncode == 0, listed.stderr
    row = table(listed.stdout)[str(token_id)]
    assert row[1:3] == ["carol", "laptop"] and row[-1] != "-"  # last used: just now
    assert row[3] == f"{token[:12]}…"  # enough to tell which token it is, not enough to use it
    assert token not in listed.stdout

    revoked = playdeck("token", "revoke", str(token_id))
    assert revoked.returncode == 0, revoked.stderr
    assert status_with(web_api, token) == 401
    refused = playdeck("runs")
    assert refused.returncode == 2
    assert "the API answered 401" in refused.stderr and UNAUTHENTICATED_HINT in refused.stderr
    monkeypatch.delenv("PLAYDECK_TOKEN")
    anonymous = playdeck("runs")
    assert anonymous.returncode == 2 and UNAUTHENTICATED_HINT in anonymous.stderr
    assert playdeck("token", "revoke", "424242").returncode == 2


def test_an_expired_token_is_refused(web_api: str) -> None:
    token_id, token = create_token("admin", "--expires", "1")
    assert status_with(web_api, token) == 200
    # --expires counts whole days: move the end into the past in the database.
    with db.session_scope() as session:
        session.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    assert status_with(web_api, token) == 401
    assert playdeck("token", "create", "admin", "--expires", "0").returncode == 2


def log_in_over_http(url: str, name: str, password: str) -> requests.Session:
    browser = requests.Session()
    form_page = browser.get(f"{url}/login", timeout=10).text
    (token,) = re.findall(r'name="csrf_token" value="([^"]*)"', form_page)
    form = {"name": name, "password": password, "csrf_token": token}
    response = browser.post(f"{url}/login", data=form, allow_redirects=False, timeout=10)
    assert response.status_code in (302, 303), response.text[:500]
    return browser


def test_a_new_password_ends_the_users_login_sessions(web_api: str) -> None:
    assert playdeck("user", "add", "dora", "--role", "viewer", input=f"{PASSWORD}\n").returncode == 0
    browser = log_in_over_http(web_api, "dora", PASSWORD)
    assert browser.get(f"{web_api}/api/v1/runs", timeout=10).status_code == 200

    changed = playdeck("user", "set", "dora", "--password", input="a better passphrase\n")
    assert changed.returncode == 0, changed.stderr

    assert browser.get(f"{web_api}/api/v1/runs", timeout=10).status_code == 401
    assert not logs_in("dora", PASSWORD)
    log_in_over_http(web_api, "dora", "a better passphrase")


def test_playdeck_up_creates_the_first_admin_and_the_cli_token(playdeck_up: SupervisedPlaydeck) -> None:
    data_dir = get_settings().data_dir
    password_file, token_file = data_dir / ADMIN_PASSWORD_FILE, data_dir / CLI_TOKEN_FILE
    for secret in (password_file, token_file):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    password = password_file.read_text().strip()
    assert f"Log in at {playdeck_up.url}/login as admin with password {password}" in tail(playdeck_up.log, 200)

    log_in_over_http(playdeck_up.url, "admin", password)
    # PLAYDECK_TOKEN is unset here: the CLI on this machine uses the token `playdeck up` left for it.
    assert playdeck("runs").returncode == 0
    assert status_with(playdeck_up.url, token_file.read_text().strip()) == 200
    assert list(table(playdeck("user", "list").stdout)) == ["admin"]


def test_secrets_are_written_readable_by_their_owner_only(tmp_path: Path) -> None:
    from playdeck.cli.services import write_secret

    secret = tmp_path / "secret"
    secret.write_text("old")
    secret.chmod(0o644)
    write_secret(secret, "new")
    assert secret.read_text() == "new\n" and stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_a_password_reset_with_revoke_tokens_ends_every_token(web_api: str) -> None:
    assert playdeck("user", "add", "erin", "--role", "viewer", input=f"{PASSWORD}\n").returncode == 0
    _, first = create_token("erin")
    _, second = create_token("erin", "--expires", "7")
    kept = playdeck("user", "set", "erin", "--password", input="a better passphrase\n")
    assert kept.returncode == 0, kept.stderr
    assert status_with(web_api, first) == 200  # a password alone leaves the tokens

    reset = playdeck("user", "set", "erin", "--password", "--revoke-tokens", input="the best passphrase\n")
    assert reset.returncode == 0, reset.stderr
    assert status_with(web_api, first) == 401 and status_with(web_api, second) == 401
    assert logs_in("erin", "the best passphrase")


def test_a_deactivated_users_tokens_stay_revoked_after_reactivation(web_api: str) -> None:
    assert playdeck("user", "add", "fred", "--role", "viewer", "--no-password").returncode == 0
    _, token = create_token("fred")
    assert status_with(web_api, token) == 200
    assert playdeck("user", "set", "fred", "--inactive").returncode == 0
    assert playdeck("user", "set", "fred", "--active").returncode == 0
    assert status_with(web_api, token) == 401
    _, fresh = create_token("fred")  # the way back: a new token, made by whoever administers the server
    assert status_with(web_api, fresh) == 200
