"""Reading the support mailbox over IMAP: unseen mail in, flagged \\Seen only after it is committed."""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

import anyio.to_thread

from app.evidence.services import EvidencePolicy
from app.evidence.storage import EvidenceStore
from app.mail.ingest import ingest_mail
from app.settings import Settings

log = logging.getLogger("crossclaim.mail")

# At most this many mails per read, so one read never runs for ever; the rest wait for the next.
BATCH = 200
TIMEOUT_SECONDS = 60


class MailboxUnavailable(Exception):
    """The mailbox could not be reached, logged into or opened: nothing was read."""


@dataclass
class PollSummary:
    read: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    failed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"read": self.read, "failed": self.failed, **self.outcomes}


def connect(url: str) -> imaplib.IMAP4:
    """A logged-in connection for imap://user:pass@host:port or imaps://…"""
    parsed = urlparse(url)
    if parsed.scheme not in {"imap", "imaps"}:
        raise ValueError(f"CROSSCLAIM_IMAP_URL must start with imap:// or imaps://, not {parsed.scheme!r}")
    host = parsed.hostname or "127.0.0.1"
    client: imaplib.IMAP4
    if parsed.scheme == "imaps":
        client = imaplib.IMAP4_SSL(
            host, parsed.port or 993, ssl_context=ssl.create_default_context(), timeout=TIMEOUT_SECONDS
        )
    else:
        client = imaplib.IMAP4(host, parsed.port or 143, timeout=TIMEOUT_SECONDS)
    client.login(unquote(parsed.username or ""), unquote(parsed.password or ""))
    return client


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unseen(client: imaplib.IMAP4, folder: str) -> list[str]:
    status, _ = client.select(_quoted(folder))
    if status != "OK":
        raise RuntimeError(f"cannot open the mail folder {folder!r}")
    status, data = client.uid("SEARCH", "UNSEEN")
    if status != "OK" or not data or not data[0]:
        return []
    return [uid.decode("ascii") for uid in bytes(data[0]).split()][:BATCH]


def _fetch(client: imaplib.IMAP4, uid: str) -> bytes | None:
    # BODY.PEEK leaves \Seen unset: a crash before the commit leaves the mail for the next read.
    status, data = client.uid("FETCH", uid, "(BODY.PEEK[])")
    if status != "OK":
        return None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and re.search(rb"BODY\[\]", item[0]):
            return bytes(item[1])
    return None


def _mark_seen(client: imaplib.IMAP4, uid: str) -> None:
    client.uid("STORE", uid, "+FLAGS", "(\\Seen)")


async def poll_mailbox(settings: Settings, *, store: EvidenceStore, policy: EvidencePolicy) -> PollSummary:
    """Read the unseen mail of the folder once; each is flagged \\Seen after its database commit."""
    summary = PollSummary()
    if not settings.imap_url:
        return summary
    try:
        client = await anyio.to_thread.run_sync(connect, settings.imap_url)
    except (OSError, imaplib.IMAP4.error, ValueError) as error:
        raise MailboxUnavailable(f"{type(error).__name__}: {error}") from error
    try:
        try:
            uids = await anyio.to_thread.run_sync(_unseen, client, settings.imap_folder)
        except (OSError, imaplib.IMAP4.error, RuntimeError) as error:
            raise MailboxUnavailable(f"{type(error).__name__}: {error}") from error
        for uid in uids:
            raw = await anyio.to_thread.run_sync(_fetch, client, uid)
            if raw is None:
                summary.failed += 1
                continue
            summary.read += 1
            try:
                outcome = await ingest_mail(raw, settings=settings, store=store, policy=policy)
            except Exception:
                # The database or the store is down: the mail stays unseen and is read again next time.
                log.exception("inbound mail not stored", extra={"uid": uid})
                summary.failed += 1
                continue
            summary.outcomes[outcome.status] = summary.outcomes.get(outcome.status, 0) + 1
            await anyio.to_thread.run_sync(_mark_seen, client, uid)
    finally:
        await anyio.to_thread.run_sync(_logout, client)
    return summary


def _logout(client: imaplib.IMAP4) -> None:
    try:
        client.logout()
    except (OSError, imaplib.IMAP4.error):
        pass
