"""The OpenAPI description is valid OpenAPI 3.0, as client generators read it: a description written in a
YAML flow mapping with a comma used to become junk keys (``"or being stopped": null``) that generators
choke on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from openapi_spec_validator import OpenAPIV30SpecValidator

from playdeck.projects import SAMPLE_PROJECT
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


def test_a_client_generated_from_the_description_reads_a_real_project(app, tmp_path, monkeypatch):
    """openapi-python-client, as a user of the API would run it, builds a client from the served
    description without complaints (but one it has about every text/plain body), and the client parses
    the real server's answer into its typed model."""
    spec_file = tmp_path / "openapi.json"
    spec_file.write_text(json.dumps(openapi.spec()))
    generator = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run(
        [generator, "generate", "--path", spec_file, "--meta", "none", "--output-path", tmp_path / "pdclient"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PATH": f"{generator.parent}{os.pathsep}{os.environ['PATH']}"},
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("WARNING")]
    assert complaints == ["WARNING parsing POST /api/v1/zones/{zone}/import within default."], done.stdout
    assert "Unsupported content type text/plain" in done.stdout + done.stderr

    monkeypatch.syspath_prepend(str(tmp_path))
    from pdclient import AuthenticatedClient
    from pdclient.api.default import get_api_v1_projects_project
    from pdclient.models import Project

    transport = httpx.WSGITransport(app=app)
    client = AuthenticatedClient(
        "http://playdeck.test", os.environ["PLAYDECK_TOKEN"], httpx_args={"transport": transport}
    )
    answer = get_api_v1_projects_project.sync_detailed(SAMPLE_PROJECT, client=client)
    assert answer.status_code == 200 and isinstance(answer.parsed, Project)
    assert answer.parsed.name == SAMPLE_PROJECT
    missing = get_api_v1_projects_project.sync_detailed("no-such-project", client=client)
    assert missing.status_code == 404
