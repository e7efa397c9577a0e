"""Email over SMTP, or into an outbox folder when no SMTP server is configured: the one mail sender.

Every mail Crossclaim sends — a reminder sweep's hundreds, a claim pack with its PDF, the monthly
report — goes through `send_mails` (a batch over a few connections) or `send_mail` (one, raising).
"""

from __future__ import annotations

import base64
import secrets
import smtplib
import ssl
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.header import Header
from email.utils import encode_rfc2231, formataddr, formatdate, parseaddr
from pathlib import Path
from urllib.parse import unquote, urlparse

from app.settings import Settings

# A batch goes over at most this many SMTP connections at once, one per 25 mails.
SMTP_CONNECTIONS = 8
MAILS_PER_CONNECTION = 25


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


@dataclass(frozen=True)
class Delivery:
    """What became of one mail: ``sent``, ``failed`` (refused for good) or ``retry`` (not taken now)."""

    status: str
    message_id: str = ""
    error: str = ""


class PermanentMailError(Exception):
    """The server refused the message for good (bad address): record it, do not retry."""


class TransientMailError(Exception):
    """The server could not take the message now: retry later."""


def refused_for_good(error: smtplib.SMTPRecipientsRefused) -> bool:
    """A 5xx refusal (no such mailbox) is final; a 4xx one (greylisting, a full mailbox) is worth a retry."""
    return any(500 <= code < 600 for code, _message in error.recipients.values())


def send_mail(settings: Settings, mail: Mail) -> str:
    """Send one mail (blocking: call from a task or a thread). Returns the Message-ID."""
    [delivery] = send_mails(settings, [mail])
    if delivery.status == "failed":
        raise PermanentMailError(delivery.error)
    if delivery.status == "retry":
        raise TransientMailError(delivery.error)
    return delivery.message_id


def send_mails(settings: Settings, mails: Sequence[Mail]) -> list[Delivery]:
    """Send many mails over a few SMTP connections at once (a connection per mail costs ~10 ms); never raises.

    Blocking: call from a task or a thread. The answer has one `Delivery` per mail, in order.
    """
    deliveries: list[Delivery] = [Delivery("retry", error="not sent")] * len(mails)
    if not settings.smtp_url:
        for index, mail in enumerate(mails):
            message_id = message_id_of(mail)
            _write_to_outbox(settings.outbox_dir, message_bytes(settings, mail, message_id))
            deliveries[index] = Delivery("sent", message_id)
        return deliveries
    indices = list(range(len(mails)))
    lanes = max(1, min(SMTP_CONNECTIONS, len(mails) // MAILS_PER_CONNECTION))
    if lanes == 1:
        _send_over_one_connection(settings, mails, indices, deliveries)
    else:
        with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="smtp") as pool:
            for lane in range(lanes):
                pool.submit(_send_over_one_connection, settings, mails, indices[lane::lanes], deliveries)
    return deliveries


def _send_over_one_connection(
    settings: Settings, mails: Sequence[Mail], indices: Sequence[int], deliveries: list[Delivery]
) -> None:
    """The mails at ``indices`` over one connection; each one's outcome written into ``deliveries``."""

    def retry_from(position: int, error: str) -> None:
        for index in indices[position:]:
            deliveries[index] = Delivery("retry", error=error[:500])

    sender = parseaddr(settings.mail_from)[1] or settings.mail_from
    url = urlparse(settings.smtp_url)
    host, port = url.hostname or "127.0.0.1", url.port or (465 if url.scheme == "smtps" else 25)
    try:
        if url.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=30, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port, timeout=30)
    except OSError as error:
        retry_from(0, f"SMTP connection: {error}")
        return
    with client:
        try:
            if url.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
        except (OSError, smtplib.SMTPException) as error:
            retry_from(0, f"SMTP session: {error}")
            return
        for position, index in enumerate(indices):
            mail = mails[index]
            message_id = message_id_of(mail)
            try:
                message = message_bytes(settings, mail, message_id)
            except UnicodeEncodeError:
                deliveries[index] = Delivery("failed", error="an address that cannot be written in a mail header")
                continue
            try:
                client.sendmail(sender, list(mail.to), message)
                deliveries[index] = Delivery("sent", message_id)
            except smtplib.SMTPRecipientsRefused as error:
                deliveries[index] = Delivery("failed" if refused_for_good(error) else "retry", error=str(error)[:500])
            except smtplib.SMTPResponseException as error:
                status = "failed" if 500 <= error.smtp_code < 600 else "retry"
                deliveries[index] = Delivery(status, error=f"{error.smtp_code} {error.smtp_error!r}"[:500])
            except (OSError, smtplib.SMTPException) as error:
                # The connection broke: this and every later mail of the lane waits for the next try.
                retry_from(position, f"SMTP: {error}")
                return


def message_id_of(mail: Mail) -> str:
    # A case mail brings its own Message-ID (recorded before sending, so replies find their thread).
    return mail.headers.get("Message-ID") or f"<{secrets.token_hex(16)}@crossclaim.localhost>"


def message_bytes(settings: Settings, mail: Mail, message_id: str) -> bytes:
    """The mail as MIME bytes, built directly: the email package takes ~7 ms a message here, this ~0.1 ms.

    Text, or text + HTML as alternatives; attachments make it multipart/mixed around those.
    """
    headers = [
        f"From: {_address(settings.mail_from)}",
        f"To: {', '.join(_address(address) for address in mail.to)}",
        f"Subject: {_header(mail.subject)}",
        f"Date: {formatdate(localtime=False)}",
        f"Message-ID: {_header(message_id)}",
        *([f"Reply-To: {_address(mail.reply_to)}"] if mail.reply_to else []),
        "MIME-Version: 1.0",
        *(f"{_header(name)}: {_header(value)}" for name, value in mail.headers.items() if name != "Message-ID"),
    ]
    body = _part("text/plain; charset=utf-8", mail.text.encode())
    if mail.html:
        body = _multipart("alternative", [body, _part("text/html; charset=utf-8", mail.html.encode())])
    if mail.attachments:
        files = [
            _part(attachment.media_type, attachment.content, f"attachment; {_filename(attachment.filename)}")
            for attachment in mail.attachments
        ]
        body = _multipart("mixed", [body, *files])
    text = "\r\n".join(headers) + "\r\n" + body
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii")


def _part(content_type: str, payload: bytes, disposition: str = "") -> str:
    """One MIME part (its headers, a blank line, the base64 body)."""
    lines = [f"Content-Type: {content_type}", "Content-Transfer-Encoding: base64"]
    if disposition:
        lines.append(f"Content-Disposition: {disposition}")
    return "\r\n".join(lines) + "\r\n\r\n" + base64.encodebytes(payload).decode("ascii")


def _multipart(subtype: str, parts: Sequence[str]) -> str:
    boundary = f"=_cc_{secrets.token_hex(12)}"
    inner = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts)
    return f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n{inner}--{boundary}--\r\n'


def _filename(name: str) -> str:
    # No line breaks, quotes or backslashes reach the header; a non-ASCII name goes RFC 2231-encoded.
    name = "".join(ch for ch in name if ch not in '\r\n"\\') or "attachment"
    return f'filename="{name}"' if name.isascii() else f"filename*={encode_rfc2231(name, 'utf-8')}"


def _address(value: str) -> str:
    """'Name <a@b>' with a non-ASCII name RFC 2047-encoded; the address itself must be ASCII."""
    return formataddr(parseaddr(value.replace("\r", " ").replace("\n", " ")), charset="utf-8")


def _header(value: str) -> str:
    # Headers carry no line breaks (no header injection); non-ASCII goes RFC 2047-encoded.
    value = value.replace("\r", " ").replace("\n", " ")
    return value if value.isascii() else Header(value, "utf-8").encode()


def _write_to_outbox(folder: Path, message: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
    (folder / name).write_bytes(message)
