"""Whole-number query parameters with a clear 400 for anything else."""

from __future__ import annotations

from playdeck.errors import ValidationError


def int_param(name: str, value: str | None, default: int, minimum: int, maximum: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or not minimum <= int(value) <= maximum:
        raise ValidationError(name, f"must be a whole number from {minimum} to {maximum}, got '{value}'")
    return int(value)
