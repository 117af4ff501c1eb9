"""A webhook goes to the address that was checked, yet over HTTPS verifies the certificate of the URL's own
host name (SNI and the name check): pinning the address does not weaken TLS. A real TLS receiver on
127.0.0.1 with a certificate made here. A credential in the URL still travels as Basic auth."""

from __future__ import annotations

import base64
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests.certs
import urllib3

from playdeck import webhook_targets
from tests.tls_certs import self_signed
from tests.webhook_receiver import receiver

LOOPBACK = ipaddress.ip_address("127.0.0.1")


@pytest.fixture
def tls_receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, list[str]]]:
    """A receiver for hook.test on 127.0.0.1 (its port, the Host headers it got); its certificate is the
    only one trusted."""
    cert_file, key_file = self_signed(tmp_path, "hook.test")
    monkeypatch.setattr(requests.certs, "where", lambda: str(cert_file))
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hosts.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], hosts
    finally:
        server.shutdown()
        server.server_close()


def test_https_to_the_checked_address_verifies_the_urls_host(tls_receiver) -> None:
    port, hosts = tls_receiver
    answer = webhook_targets.send(f"https://hook.test:{port}/hook?x=1", LOOPBACK, b"{}", {}, timeout=10)
    assert answer.status == 204 and hosts == [f"hook.test:{port}"]
    # The same server, reached under a name its certificate does not carry: refused by the TLS check.
    with pytest.raises(urllib3.exceptions.SSLError):
        webhook_targets.send(f"https://other.test:{port}/hook", LOOPBACK, b"{}", {}, timeout=10)
    assert len(hosts) == 1


def test_a_credential_in_the_url_is_sent_as_basic_auth_as_before() -> None:
    with receiver() as hook_receiver:
        url = hook_receiver.url.replace("http://", "http://bot:p%40ss@")
        assert webhook_targets.send(url, LOOPBACK, b"{}", {"X-Test": "1"}, timeout=10).status == 200
        (got,) = hook_receiver.received
    assert got.headers["Authorization"] == "Basic " + base64.b64encode(b"bot:p@ss").decode()
    assert got.headers["Host"] == hook_receiver.url.split("/")[2] and got.path == "/hook"
