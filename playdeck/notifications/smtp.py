"""E-mail notifications over SMTP: one message per delivery, to the destination's recipients as they are at
the attempt (a corrected address takes effect on the next retry).

STARTTLS is required unless PLAYDECK_SMTP_STARTTLS is off, with the server's certificate checked (system CAs,
or PLAYDECK_SMTP_CA_FILE); the password goes only over that encrypted channel. The outcome is what the sender
(``playdeck.webhook_delivery``) records: a server that cannot be reached, times out or answers 4xx is tried
again later; a 5xx answer (a refused recipient, a refused login) or a missing configuration fails the
delivery at once. The server's own words are kept, shortened; never the password.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from playdeck.settings import Settings

MAX_REPLY_CHARS = 200


@dataclass(frozen=True)
class MailOutcome:
    error: str = ""
    # No retry can help.
    final: bool = False


def message(payload: str, recipients: list[str], settings: Settings) -> EmailMessage:
    """The mail for an outbox payload (``{"subject": ..., "text": ...}``)."""
    content = json.loads(payload)
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = ", ".join(recipients)
    # Rendered from validated names only, but a header never takes a line break, whatever comes.
    mail["Subject"] = " ".join(content["subject"].split())
    mail["Message-ID"] = make_msgid(domain="playdeck")
    mail.set_content(content["text"])
    return mail


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"SMTP {code} {' '.join(words.split())[:MAX_REPLY_CHARS]}"


def _talk(mail: EmailMessage, settings: Settings) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds) as server:
        if settings.smtp_starttls:
            cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
            server.starttls(context=ssl.create_default_context(cafile=cafile))
        if settings.smtp_user:
            server.login(settings.smtp_user, settings.smtp_password)
        return server.send_message(mail)


def send(payload: str, recipients: list[str], settings: Settings) -> MailOutcome:
    if not settings.smtp_host:
        return MailOutcome("no SMTP server is configured (PLAYDECK_SMTP_HOST)", final=True)
    if not recipients:
        return MailOutcome("the destination has no recipients", final=True)
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        refused = _talk(message(payload, recipients, settings), settings)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        return MailOutcome(f"every recipient was refused by {where}: " + "; ".join(
            f"{address}: {_reply(code, text)}" for address, (code, text) in exc.recipients.items()),
            final=all(code >= 500 for code in codes))  # fmt: skip
    except smtplib.SMTPResponseException as exc:
        return MailOutcome(f"{where} answered {_reply(exc.smtp_code, exc.smtp_error)}", final=exc.smtp_code >= 500)
    except smtplib.SMTPNotSupportedError:
        return MailOutcome(f"{where} does not offer STARTTLS (PLAYDECK_SMTP_STARTTLS)", final=True)
    except ssl.SSLError as exc:
        return MailOutcome(f"TLS with {where} failed: {exc.reason or type(exc).__name__}")
    except (OSError, smtplib.SMTPException) as exc:
        return MailOutcome(f"{type(exc).__name__} talking to {where}")
    if refused:
        # Some got it: sending again would repeat it to them.
        return MailOutcome(f"{where} refused {', '.join(sorted(refused))}", final=True)
    return MailOutcome()
