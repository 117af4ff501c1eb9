"""Whole-number query parameters with a clear 400 for anything else."""

from __future__ import annotations

from playdeck.errors import ValidationError


def int_param(name: str, value: str | None, default: int, minimum: int, maximum: int) -> int:
    if value is None or value == "":
        return default
    # ASCII digits, and not too many: int() refuses "²" (str.isdigit() is true for it) and over 4,300
    # digits, which would be a 500 instead of this 400.
    if not (value.isascii() and value.isdigit() and len(value) <= 20) or not minimum <= int(value) <= maximum:
        raise ValidationError(name, f"must be a whole number from {minimum} to {maximum}, got '{value}'")
    return int(value)
