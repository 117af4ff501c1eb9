"""Which refs a user may name: git's own check-ref-format rules, checked in Python before git sees the value.

A branch, a tag or a commit (7 to 64 hexadecimal digits, which the rules allow anyway). Refused besides git's
rules: a leading "-" (an option to any git command) and names longer than MAX_REF_LENGTH.
"""

from __future__ import annotations

import re

from playdeck.errors import ValidationError

FIELD = "ref"
MAX_REF_LENGTH = 255
# Characters git refuses anywhere in a ref name (check-ref-format rules 4, 5 and 10).
_FORBIDDEN = set(" ~^:?*[\\") | {chr(code) for code in range(32)} | {"\x7f"}
HEX = re.compile(r"[0-9a-f]{7,64}")


def check_ref(ref: str) -> str:
    """``ref`` (surrounding whitespace removed) if it is a valid branch, tag or commit name, else a
    ValidationError on "ref" saying which rule it breaks."""
    ref = ref.strip()
    problem = _problem(ref)
    if problem:
        raise ValidationError(FIELD, f"'{ref}' is not a valid branch, tag or commit: {problem}")
    return ref


def is_commit_id(ref: str) -> bool:
    """Whether ``ref`` could be an (abbreviated) commit id: 7 to 64 lowercase or uppercase hex digits."""
    return HEX.fullmatch(ref.lower()) is not None


def _problem(ref: str) -> str:
    if not ref:
        return "it is empty"
    if len(ref) > MAX_REF_LENGTH:
        return f"it is longer than {MAX_REF_LENGTH} characters"
    if ref.startswith("-"):
        return "it must not start with '-'"
    bad = sorted({char for char in ref if char in _FORBIDDEN or not char.isprintable()})
    if bad:
        return f"it must not contain {', '.join(repr(char) for char in bad)}"
    if ref == "@" or "@{" in ref:
        return "it must not be '@' or contain '@{'"
    if ".." in ref:
        return "it must not contain '..'"
    if ref.startswith("/") or ref.endswith("/") or "//" in ref:
        return "it must not start or end with '/' or contain '//'"
    if ref.endswith("."):
        return "it must not end with '.'"
    for component in ref.split("/"):
        if component.startswith("."):
            return "no part of it may start with '.'"
        if component.endswith(".lock"):
            return "no part of it may end with '.lock'"
    return ""
