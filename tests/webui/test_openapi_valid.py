"""The OpenAPI description is valid OpenAPI 3.0, as client generators read it: a description written in a
YAML flow mapping with a comma used to become junk keys (``"or being stopped": null``) that generators
choke on."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import OpenAPIV30SpecValidator

from webui import openapi


def _null_keys(node: Any, path: str = "") -> list[str]:
    """Keys whose value is null: nothing in this document is meant to be null, a stray key is."""
    if isinstance(node, dict):
        found = [f"{path}/{key}" for key, value in node.items() if value is None]
        return found + [hit for key, value in node.items() for hit in _null_keys(value, f"{path}/{key}")]
    if isinstance(node, list):
        return [hit for index, value in enumerate(node) for hit in _null_keys(value, f"{path}/{index}")]
    return []


def test_the_openapi_description_validates_and_has_no_stray_keys():
    spec = openapi.spec()
    errors = [f"{'/'.join(map(str, error.absolute_path))}: {error.message[:200]}"
              for error in OpenAPIV30SpecValidator(spec).iter_errors()]  # fmt: skip
    assert errors == []
    assert _null_keys(spec) == []
