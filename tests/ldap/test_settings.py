"""PLAYDECK_LDAP_* read at start: a configuration that would send passwords in clear, or bind anonymously, stops
the process with the reason, before anyone logs in."""

from __future__ import annotations

import pytest

from playdeck.settings import load_settings

SERVICE = {"PLAYDECK_LDAP_BIND_DN": "cn=svc,dc=example,dc=test", "PLAYDECK_LDAP_BIND_PASSWORD": "pw"}


def configure(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_nothing_set_is_no_directory():
    assert load_settings().ldap_urls == ()


def test_plain_ldap_without_starttls_is_refused(monkeypatch):
    configure(monkeypatch, PLAYDECK_LDAP_URL="ldap://dc.example.test", **SERVICE)

    with pytest.raises(ValueError, match="in clear"):
        load_settings()
    monkeypatch.setenv("PLAYDECK_LDAP_STARTTLS", "1")
    assert load_settings().ldap_urls == ("ldap://dc.example.test",)


def test_other_schemes_are_refused(monkeypatch):
    configure(monkeypatch, PLAYDECK_LDAP_URL="ldapi:///run/slapd.sock", **SERVICE)

    with pytest.raises(ValueError, match="not an ldaps:// or ldap:// URL"):
        load_settings()


@pytest.mark.parametrize("missing", sorted(SERVICE))
def test_a_directory_without_its_service_account_is_refused(monkeypatch, missing):
    configure(monkeypatch, PLAYDECK_LDAP_URL="ldaps://dc.example.test", **SERVICE)
    monkeypatch.delenv(missing)

    with pytest.raises(ValueError, match="service account"):
        load_settings()


def test_the_service_password_can_come_from_a_file_and_stays_out_of_repr(monkeypatch, tmp_path):
    secret = tmp_path / "ldap-password"
    secret.write_text("from-the-file\n")
    configure(monkeypatch, PLAYDECK_LDAP_URL="ldaps://a.example.test, ldaps://b.example.test",
              PLAYDECK_LDAP_BIND_DN="cn=svc", PLAYDECK_LDAP_BIND_PASSWORD_FILE=str(secret))  # fmt: skip

    settings = load_settings()

    assert settings.ldap_bind_password == "from-the-file"
    assert settings.ldap_urls == ("ldaps://a.example.test", "ldaps://b.example.test")
    assert "from-the-file" not in repr(settings)


def test_active_directory_looks_people_up_by_their_account_name(monkeypatch):
    monkeypatch.setenv("PLAYDECK_LDAP_ACTIVE_DIRECTORY", "1")

    assert load_settings().ldap_user_attribute == "sAMAccountName"


def test_the_service_password_file_is_hidden_from_sandboxed_runs_and_the_password_from_their_environment(
    monkeypatch, tmp_path
):
    from runners import playbook_run, sandbox

    secret = tmp_path / "ldap-password"
    secret.write_text("from-the-file\n")
    configure(monkeypatch, PLAYDECK_LDAP_URL="ldaps://dc.example.test", PLAYDECK_LDAP_BIND_DN="cn=svc",
              PLAYDECK_LDAP_BIND_PASSWORD_FILE=str(secret))  # fmt: skip

    assert secret.resolve() in sandbox._hidden_files(load_settings())
    assert "PLAYDECK_LDAP_BIND_PASSWORD" in playbook_run.HIDDEN_ENV


def test_a_user_filter_that_is_not_one_filter_is_refused(monkeypatch):
    monkeypatch.setenv("PLAYDECK_LDAP_USER_FILTER", "objectClass=person")

    with pytest.raises(ValueError, match="PLAYDECK_LDAP_USER_FILTER"):
        load_settings()
