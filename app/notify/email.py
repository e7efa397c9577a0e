"""Email over SMTP, or into an outbox folder when no SMTP server is configured."""

from __future__ import annotations

import smtplib
import ssl
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlparse

from app.settings import Settings


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    media_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Mail:
    to: Sequence[str]
    subject: str
    text: str
    html: str | None = None
    reply_to: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    attachments: Sequence[Attachment] = ()


class PermanentMailError(Exception):
    """The server refused the message for good (bad address): record it, do not retry."""


class TransientMailError(Exception):
    """The server could not take the message now: retry later."""


def build_message(settings: Settings, mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = ", ".join(mail.to)
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    # A case mail brings its own Message-ID (recorded before sending, so replies find their thread).
    message["Message-ID"] = mail.headers.get("Message-ID") or make_msgid(domain="crossclaim.localhost")
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    for name, value in mail.headers.items():
        if name != "Message-ID":
            message[name] = value
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    for attachment in mail.attachments:
        maintype, _, subtype = attachment.media_type.partition("/")
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype or "octet-stream", filename=attachment.filename
        )
    return message


def refused_for_good(error: smtplib.SMTPRecipientsRefused) -> bool:
    """A 5xx refusal (no such mailbox) is final; a 4xx one (greylisting, a full mailbox) is worth a retry."""
    return any(500 <= code < 600 for code, _message in error.recipients.values())


def send_mail(settings: Settings, mail: Mail) -> str:
    """Send (blocking: call from a task or a thread). Returns the Message-ID."""
    message = build_message(settings, mail)
    if not settings.smtp_url:
        _write_to_outbox(settings.outbox_dir, message)
        return str(message["Message-ID"])
    url = urlparse(settings.smtp_url)
    host, port = url.hostname or "127.0.0.1", url.port or (465 if url.scheme == "smtps" else 25)
    try:
        if url.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=30, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port, timeout=30)
        with client:
            if url.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        if refused_for_good(error):
            raise PermanentMailError(str(error)) from error
        raise TransientMailError(str(error)) from error
    except smtplib.SMTPResponseException as error:
        if 500 <= error.smtp_code < 600:
            raise PermanentMailError(f"{error.smtp_code} {error.smtp_error!r}") from error
        raise TransientMailError(f"{error.smtp_code} {error.smtp_error!r}") from error
    except (OSError, smtplib.SMTPException) as error:
        raise TransientMailError(str(error)) from error
    return str(message["Message-ID"])


def _write_to_outbox(folder: Path, message: EmailMessage) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
    (folder / name).write_bytes(message.as_bytes())
