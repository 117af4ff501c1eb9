"""A real SMTP server for notification tests: aiosmtpd on a free local port, STARTTLS required, with a
throwaway self-signed certificate for 127.0.0.1 (the client is told to trust it through
PLAYDECK_SMTP_CA_FILE), recording every mail it accepts and refusing the recipients it is told to."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.cli.cli_support import wait_for_items
from tests.conftest import free_port
from tests.tls_certs import self_signed


@dataclass
class Mail:
    mail_from: str
    recipients: list[str]
    over_tls: bool
    message: EmailMessage


@dataclass
class SmtpReceiver:
    host: str
    port: int
    cert: Path
    # Recipients answered 550 at RCPT.
    refuse: set[str] = field(default_factory=set)
    mails: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 30) -> list[Mail]:
        return wait_for_items(self.mails, self.lock, count, timeout, "mails at the SMTP server")


class _Handler:
    def __init__(self, state: SmtpReceiver) -> None:
        self.state = state

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's naming
        if address in self.state.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.state.lock:
            self.state.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), session.ssl is not None, message))
        return "250 Message accepted"


@contextmanager
def smtp_server(directory: Path) -> Iterator[SmtpReceiver]:
    cert, key = self_signed(directory, "127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    state = SmtpReceiver("127.0.0.1", free_port(), cert)
    controller = Controller(
        _Handler(state), hostname=state.host, port=state.port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        yield state
    finally:
        controller.stop()
