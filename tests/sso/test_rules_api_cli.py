"""Managing the group mapping rules: the API for admins (a developer's token gets 403), and `playdeck sso
rule` on the server's database; bad input is a 4xx / exit 2 with a clear message."""

from __future__ import annotations

from playdeck import db
from playdeck.auth.sso import rules
from tests.cli.cli_support import playdeck
from tests.conftest import as_user, web_client


def test_admins_manage_rules_through_the_api_and_others_are_refused(embedded):
    client = web_client()
    post = client.post
    created = client.post("/api/v1/sso/rules", json={"group": "sre", "role": "release_manager", "source": "oidc"})
    assert created.status_code == 201, created.json
    rule_id = created.json["id"]
    assert client.get(created.headers["Location"]).json["group"] == "sre"
    changed = client.patch(f"/api/v1/sso/rules/{rule_id}", json={"zones": ["a.test"], "keep_manual_grants": False})
    assert (changed.json["zones"], changed.json["keep_manual_grants"]) == (["a.test."], False)
    bad = client.post("/api/v1/sso/rules", json={"group": "x", "role": "god"})
    assert bad.status_code == 400 and "role" in bad.json["error"]
    assert post("/api/v1/sso/rules", json={"group": "SRE", "role": "viewer", "source": "oidc"}).status_code == 409
    assert post("/api/v1/sso/rules", json={"group": "x", "role": "viewer", "projects": ["nope"]}).status_code == 404
    assert client.post("/api/v1/sso/rules", json={"group": "x", "role": "viewer", "admin": True}).status_code == 400
    developer = as_user("dev", "developer")
    assert client.get("/api/v1/sso/rules", headers=developer).status_code == 403
    assert client.post("/api/v1/sso/rules", json={"group": "x", "role": "admin"}, headers=developer).status_code == 403
    assert client.delete(f"/api/v1/sso/rules/{rule_id}", headers=developer).status_code == 403
    assert client.delete(f"/api/v1/sso/rules/{rule_id}").status_code == 204
    assert client.get("/api/v1/sso/rules").json == {"rules": []}


def test_the_cli_adds_lists_changes_and_removes_rules(embedded):
    added = playdeck("sso", "rule", "add", "cn=deployers,ou=groups", "--role", "developer", "--project", "sampleapp")
    assert added.returncode == 0, added.stderr
    assert "cn=deployers,ou=groups" in added.stdout and "sampleapp" in added.stdout
    with db.session_scope() as session:
        rule_id = rules.list_rules(session)[0].id
    changed = playdeck("sso", "rule", "set", str(rule_id), "--drop-manual-grants", "--project", "-")
    assert changed.returncode == 0, changed.stderr
    assert "dropped" in changed.stdout
    assert "cn=deployers,ou=groups" in playdeck("sso", "rule", "list").stdout
    refused = playdeck("sso", "rule", "add", "x", "--role", "viewer", "--project", "nope")
    assert refused.returncode == 2 and "project 'nope' does not exist" in refused.stderr
    assert playdeck("sso", "rule", "rm", str(rule_id)).returncode == 0
    assert "No rules" in playdeck("sso", "rule", "list").stdout
    assert playdeck("sso", "rule", "rm", str(rule_id)).returncode == 2
