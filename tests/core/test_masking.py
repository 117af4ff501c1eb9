"""Known secrets are masked in every form a playbook can print one with a filter: as written, JSON-escaped,
reversed, hex, URL-encoded, base64 (both alphabets, padded or not, whole or inside a longer base64'd text),
and an SSH key line by line. (Through a real run: tests/runners/test_run_secrets.py.)"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, quote_plus

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from playdeck.masking import REDACTED, Masker
from playdeck.secrets import RunSecrets

SECRET = 'pw "quoted"/ä+&=ok'


def private_key(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()


def printed_forms(value: str) -> dict[str, str]:
    """What a playbook prints with Jinja's filters (b64encode, reverse, urlencode, to_json) or a shell."""
    data = value.encode()
    b64 = base64.b64encode(data).decode()
    return {
        "plain": value,
        "json": json.dumps(value)[1:-1],
        "json ascii": json.dumps(value, ensure_ascii=False)[1:-1],
        "reversed": value[::-1],
        "hex": data.hex(),
        "HEX": data.hex().upper(),
        "b64": b64,
        "b64 unpadded": b64.rstrip("="),
        "urlsafe b64": base64.urlsafe_b64encode(data).decode(),
        "urlsafe b64 unpadded": base64.urlsafe_b64encode(data).decode().rstrip("="),
        "urlencode (Jinja)": quote(value),
        "quote": quote(value, safe=""),
        "quote_plus": quote_plus(value),
        "lowercase escapes": re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(value, safe="")),
    }


@pytest.mark.parametrize("form", printed_forms(SECRET))
def test_each_printed_form_of_a_password_is_masked(form):
    printed = printed_forms(SECRET)[form]
    event = {"stdout": f"ok: [web1] => {printed} <-", "event_data": {"res": {"msg": [printed]}}}
    assert RunSecrets(vault_password=SECRET).redact_event(event)
    assert event == {"stdout": f"ok: [web1] => {REDACTED} <-", "event_data": {"res": {"msg": [REDACTED]}}}


@pytest.mark.parametrize("before", ["", "a", "ab", "abc", '{"password": "', "x" * 100])
def test_a_secret_inside_a_longer_base64_text_is_masked_at_every_offset(before):
    after = '", "user": "deploy"}'
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode(f"{before}{SECRET}{after}".encode()).decode()
        masked = RunSecrets(become_password=SECRET).redact(encoded)
        left, right = masked.split(REDACTED)
        assert encoded.startswith(left) and encoded.endswith(right)
        # What is left decodes to the text around the secret and at most two of its bytes at each end.
        assert len(left) * 6 // 8 <= len(before.encode()) + 2
        assert len(right.rstrip("=")) * 6 // 8 <= len(after.encode()) + 2


def test_an_ssh_key_is_masked_line_by_line_whole_and_encoded():
    key = private_key(ed25519.Ed25519PrivateKey.generate())
    lines = [line for line in key.splitlines() if "-----" not in line]
    run_secrets = RunSecrets(ssh_key=key)
    whole_forms = [
        *lines,
        key,
        "".join(lines),
        key[::-1],
        base64.b64encode(key.encode()).decode(),
        key.encode().hex(),
        quote(key),
    ]
    assert [run_secrets.redact(text) for text in whole_forms] == [REDACTED] * len(whole_forms)
    assert run_secrets.redact(json.dumps({"key": key})) == json.dumps({"key": REDACTED})
    # A key's lines, wherever they are found.
    masked = run_secrets.redact(f"cat id_ed25519:\n{key.replace(chr(10), ' | ')}")
    assert all(line not in masked for line in lines) and masked.count(REDACTED) == len(lines)
    # Each line, found by the quick check wherever it starts in an event (the long needles' sampled pieces).
    for start in range(40):
        assert run_secrets.masker.may_hold({"stdout": "x" * start + lines[2]})


def test_many_key_lines_are_found_at_any_position():
    key = private_key(rsa.generate_private_key(public_exponent=65537, key_size=4096))
    masker = RunSecrets(ssh_key=key).masker
    lines = [line for line in key.splitlines() if "-----" not in line]
    assert len(lines) > 40
    for index, line in enumerate(lines):
        for form in (line, line[::-1], base64.b64encode(line.encode()).decode(), line.encode().hex().upper()):
            text = "y" * (index % 30) + form + "z"
            assert masker.may_hold({"stdout": text}), (index, form)
            assert line not in masker.mask(text)


def test_ordinary_events_are_not_touched():
    run_secrets = RunSecrets(
        ssh_key=private_key(ed25519.Ed25519PrivateKey.generate()), become_password=SECRET, vault_password="vault-pw"
    )
    event = {"stdout": "ok: [web1]", "event_data": {"res": {"msg": "Hello world", "b64": "aGVsbG8gd29ybGQ="}}}
    assert not run_secrets.redact_event(event)
    assert not run_secrets.masker.may_hold(event)


@pytest.mark.parametrize("secret", ["a", "ab", "abc"])
def test_very_short_secrets_mask_nothing(secret):
    """Masking a 1 to 3 character password (in any form) would mask ordinary words and numbers."""
    text = f"a ab abc abcd {secret.encode().hex()} {base64.b64encode(secret.encode()).decode()}"
    assert RunSecrets(become_password=secret).redact(text) == text
    assert not Masker([secret])


def test_a_short_secret_masks_only_its_forms_of_six_characters_or_more():
    """A 4 or 5 character password is not masked as written (it would mask words), its hex and base64 are."""
    secret = "abcd"
    text = f"abcd dcba {secret.encode().hex()} {base64.b64encode(secret.encode()).decode()}"
    assert RunSecrets(become_password=secret).redact(text) == f"abcd dcba {REDACTED} {REDACTED}"


def test_kept_files_are_masked_as_bytes():
    masker = Masker([SECRET])
    data = f"line {base64.b64encode(SECRET.encode()).decode()} and {SECRET}\n".encode()
    assert masker.mask_bytes(data) == f"line {REDACTED} and {REDACTED}\n".encode()


def test_kept_files_with_many_key_forms_are_masked_among_other_bytes():
    key = private_key(rsa.generate_private_key(public_exponent=65537, key_size=4096))
    run_secrets = RunSecrets(ssh_key=key, vault_password=SECRET)
    lines = [line for line in key.splitlines() if "-----" not in line]
    printed = [*lines, key[::-1], base64.b64encode(key.encode()).decode(), json.dumps(key), json.dumps(SECRET)]
    data = b"\xff\xfe not UTF-8 \x80\n" + "\n".join(f"{i}: {text}" for i, text in enumerate(printed)).encode()
    masked = run_secrets.masker.mask_bytes(data)
    assert masked.startswith(b"\xff\xfe not UTF-8 \x80\n")
    assert all(line.encode() not in masked and line[::-1].encode() not in masked for line in lines)
    assert SECRET.encode() not in masked and json.dumps(SECRET)[1:-1].encode() not in masked
    assert masked.count(REDACTED.encode()) >= len(printed)
    # A file without any of them is returned as it was.
    assert run_secrets.masker.mask_bytes(b"\xff" + b"ok: [web1]\n" * 1000) == b"\xff" + b"ok: [web1]\n" * 1000
