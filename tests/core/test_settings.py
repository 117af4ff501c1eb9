"""Settings read from the environment: the secrets key from a file, the run sandbox's choices."""

from __future__ import annotations

import pytest

from playdeck.settings import load_settings


def test_the_secrets_key_can_come_from_a_file_so_no_environment_holds_it(monkeypatch, tmp_path):
    key_file = tmp_path / "secret-key"
    key_file.write_text("the-key\n")
    monkeypatch.delenv("PLAYDECK_SECRET_KEY", raising=False)
    monkeypatch.setenv("PLAYDECK_SECRET_KEY_FILE", str(key_file))

    settings = load_settings()

    assert settings.secret_key == "the-key" and settings.secret_key_file == key_file
    # The variable, when set too, is what counts.
    monkeypatch.setenv("PLAYDECK_SECRET_KEY", "from-env")
    assert load_settings().secret_key == "from-env"


def test_an_unreadable_key_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("PLAYDECK_SECRET_KEY", raising=False)
    monkeypatch.setenv("PLAYDECK_SECRET_KEY_FILE", str(tmp_path / "missing"))

    with pytest.raises(ValueError, match="PLAYDECK_SECRET_KEY_FILE .*missing: No such file"):
        load_settings()


def test_the_run_sandbox_is_one_of_its_choices(monkeypatch):
    monkeypatch.setenv("PLAYDECK_RUN_SANDBOX", "BWRAP")
    assert load_settings().run_sandbox == "bwrap"
    monkeypatch.setenv("PLAYDECK_RUN_SANDBOX", "docker")
    with pytest.raises(ValueError, match="PLAYDECK_RUN_SANDBOX must be one of auto, bwrap, none"):
        load_settings()
