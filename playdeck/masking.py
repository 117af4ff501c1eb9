"""Masking known secrets in text, in every form a playbook can easily print one.

A secret is masked as written and as a playbook can print it with one filter or command: reversed
(``| reverse``), as hex (lower and upper case), URL-encoded (``| urlencode``, ``quote``, ``quote_plus``) and as
base64 (standard and URL-safe, with and without padding). Base64 of a longer text depends on where the secret
starts in it (its offset modulo 3), so each offset has its own form: the characters that depend on the secret's
bytes alone. A secret inside any base64'd text (``{"pw": secret} | to_json | b64encode``) is then masked but for
the two or three characters at each end that it shares with its neighbours.

Each of those is also masked for the secret as JSON writes it inside a string (with and without ASCII
escapes), and the plain and reversed text as JSON writes them. A form shorter than MIN_FORM_CHARS is not
masked (it would mask ordinary words), nor is any form of a secret shorter than MIN_SECRET_CHARS (its hex or
base64 is long enough, yet tells nothing but a few common letters).

Checking an event must stay cheap (events are stored at tens of thousands a second): it is one pass over the
event's JSON per short needle, and for the long ones (an SSH key's lines and their forms, hundreds for an RSA
key) a look-up of every STRIDE-th GRAM-character piece of the JSON in the set of all their pieces. The check
folds case and the URL-safe base64 alphabet into one (hex upper/lower and both base64 alphabets are one
needle) and drops any needle that contains another (the whole SSH key contains its lines). Only an event that
may hold a secret is then masked string by string with the exact forms.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MIN_SECRET_CHARS = 4
MIN_FORM_CHARS = 6
REDACTED = "********"
# Base64 output characters to skip when the secret starts 0, 1 or 2 bytes into a 3-byte group: those
# characters mix in bits of the bytes before it.
_MIXED_LEADING_CHARS = (0, 2, 3)
_URLSAFE = str.maketrans("+/", "-_")
# The prefilter's folding: ASCII case, and URL-safe base64 onto the standard alphabet.
_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ-_", "abcdefghijklmnopqrstuvwxyz+/")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")
# Needles at least LONG characters long are found by their GRAM-character pieces: every STRIDE-th position of
# a text is looked up, and any occurrence of such a needle covers one of those positions with a whole piece.
GRAM = 8
LONG = 32
STRIDE = LONG - GRAM + 1
# Up to this many long needles, searching each is quicker than sampling the pieces (a password's forms).
FEW = 16
# json.dumps with arguments builds an encoder per call.
_JSON = json.JSONEncoder(default=str)


def base64_forms(data: bytes) -> set[str]:
    """The base64 text of ``data`` as a whole (padded and not) and, for each offset at which it may start
    inside a longer text, the characters that only its bytes decide; in both alphabets."""
    whole = base64.b64encode(data).decode("ascii")
    forms = {whole, whole.rstrip("=")}
    for offset, skip in enumerate(_MIXED_LEADING_CHARS):
        encoded = base64.b64encode(bytes(offset) + data).decode("ascii")
        # Whole 4-character groups only: a partial last group mixes in the bytes after the secret.
        forms.add(encoded[skip : (offset + len(data)) // 3 * 4])
    return forms | {form.translate(_URLSAFE) for form in forms}


def url_forms(value: str) -> set[str]:
    forms = {quote(value), quote(value, safe=""), quote_plus(value)}
    # Some encoders write %2f rather than %2F.
    return forms | {_PERCENT_ESCAPE.sub(lambda m: m.group().lower(), form) for form in forms}


def encoded_forms(value: str) -> set[str]:
    """Every form of ``value`` to mask, long enough to mask (empty for a value under MIN_SECRET_CHARS)."""
    if len(value) < MIN_SECRET_CHARS:
        return set()
    forms = set()
    # As written and as JSON writes it inside a string (with and without ASCII escapes): a playbook's
    # ``to_json | b64encode`` encodes the escaped text.
    for text in (value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]):
        data = text.encode("utf-8", "surrogatepass")
        forms |= {text, data.hex(), data.hex().upper()} | url_forms(text) | base64_forms(data)
    reverse = value[::-1]
    forms |= {reverse, json.dumps(reverse)[1:-1], json.dumps(reverse, ensure_ascii=False)[1:-1]}
    return {form for form in forms if len(form) >= MIN_FORM_CHARS}


def fold(text: str) -> str:
    return text.translate(_FOLD)


def minimal(needles: Iterable[str]) -> list[str]:
    """The needles that contain no other one: whenever a longer one occurs, a shorter one it holds does too."""
    ordered = sorted(set(needles), key=len)
    kept: list[str] = []
    for needle in ordered:
        if not any(shorter in needle for shorter in kept):
            kept.append(needle)
    return kept


class _Finder:
    """Tells quickly whether any of some needles (folded) may occur in a folded text: each short needle is
    searched, the long ones (when there are many) by their sampled pieces."""

    def __init__(self, folded: Iterable[str]) -> None:
        needles = minimal(folded)
        long = [needle for needle in needles if len(needle) >= LONG]
        if len(long) <= FEW:
            long = []
        self._short = [needle for needle in needles if needle not in long]
        self._grams = frozenset(needle[i : i + GRAM] for needle in long for i in range(len(needle) - GRAM + 1))

    def may_occur(self, folded: str) -> bool:
        if any(needle in folded for needle in self._short):
            return True
        grams = self._grams
        return bool(grams) and any(folded[p : p + GRAM] in grams for p in range(0, len(folded), STRIDE))


class Masker:
    """Masks the given secrets (each with every form of ``encoded_forms``) in text and in nested values."""

    def __init__(self, values: Iterable[str]) -> None:
        forms = set()
        for value in values:
            forms |= encoded_forms(value)
        # Longest first: a line of an SSH key is part of the whole key.
        self.needles = sorted(forms, key=len, reverse=True)
        self._in_text = _Finder(fold(needle) for needle in forms)
        # In an ASCII JSON dump every string shows in its ASCII-escaped form.
        self._in_json = _Finder(fold(json.dumps(needle)[1:-1]) for needle in forms)

    def __bool__(self) -> bool:
        return bool(self.needles)

    def may_hold(self, value: object) -> bool:
        """False only if no secret is in ``value`` (a str, or anything JSON can write, e.g. an event)."""
        return self._in_json.may_occur(fold(_JSON.encode(value)))

    def mask(self, text: str) -> str:
        for needle in self.needles:
            if needle in text:
                text = text.replace(needle, REDACTED)
        return text

    def mask_bytes(self, data: bytes) -> bytes:
        """``data`` (a kept file's content) with every form masked; searched once quickly first, since the
        file may be large and the forms many."""
        if not self._in_text.may_occur(fold(data.decode("utf-8", "surrogateescape"))):
            return data
        for needle in self.needles:
            encoded = needle.encode("utf-8", "surrogatepass")
            if encoded in data:
                data = data.replace(encoded, REDACTED.encode())
        return data
