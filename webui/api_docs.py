"""``/api/docs``: the API's OpenAPI description (webui/openapi.yaml) as a page to read in the browser.

Rendered on the server from the same description ``/api/v1/openapi.json`` serves, so the two never differ;
no script (the CSP allows none inline, and the UI has no JavaScript build step).
"""

from __future__ import annotations

from typing import Any

import yaml
from flask import Blueprint, render_template

from playdeck.auth.permissions import Action
from webui import access
from webui.openapi import spec

bp = Blueprint("api_docs", __name__)
METHODS = ("get", "post", "put", "patch", "delete")
# $ref chains in the description are short; a cycle must not hang the page.
MAX_REF_DEPTH = 20


def resolve(node: Any, document: dict[str, Any], depth: int = 0) -> Any:
    """``node`` with every local ``$ref`` ("#/components/...") replaced by what it points to."""
    if depth > MAX_REF_DEPTH:
        return node
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = document
            for part in ref[2:].split("/"):
                target = target[part]
            return resolve(target, document, depth + 1)
        return {key: resolve(value, document, depth + 1) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, document, depth + 1) for item in node]
    return node


def schema_text(schema: Any) -> str:
    """A schema as compact YAML: the form the description itself is written in."""
    return yaml.safe_dump(schema, sort_keys=False, default_flow_style=None, width=100).strip()


def type_of(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " | ".join(str(value) for value in schema["enum"])
    text = schema.get("type", "any")
    if "format" in schema:
        text += f" ({schema['format']})"
    bounds = [f"{key} {schema[key]}" for key in ("minimum", "maximum", "minLength", "maxLength") if key in schema]
    return text + (f"; {', '.join(bounds)}" if bounds else "")


def _content(content: dict[str, Any] | None) -> list[dict[str, str]]:
    return [
        {"media_type": media_type, "schema": schema_text(body["schema"]) if body.get("schema") else ""}
        for media_type, body in (content or {}).items()
    ]


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for path, item in resolve(document["paths"], document).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            parameters = shared + operation.get("parameters", [])
            body = operation.get("requestBody")
            found.append(
                {
                    "anchor": f"{method}-{path.strip('/').replace('/', '-').replace('{', '').replace('}', '')}",
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "public": operation.get("security") == [],
                    "parameters": [
                        {
                            "name": parameter["name"],
                            "in": parameter["in"],
                            "required": parameter.get("required", False),
                            "type": type_of(parameter.get("schema", {})),
                            "description": parameter.get("description", ""),
                        }
                        for parameter in parameters
                    ],
                    "body": None if body is None else {"required": body.get("required", False),
                                                       "content": _content(body.get("content"))},
                    "responses": [
                        {"status": status, "description": answer.get("description", ""),
                         "content": _content(answer.get("content"))}
                        for status, answer in operation.get("responses", {}).items()
                    ],
                }
            )  # fmt: skip
    return found


@bp.get("/api/docs")
@access.rule(Action.READ)
def page() -> str:
    document = spec()
    schemas = {name: schema_text(schema) for name, schema in document.get("components", {}).get("schemas", {}).items()}
    return render_template("api_docs.html", info=document["info"], operations=operations(document), schemas=schemas)
