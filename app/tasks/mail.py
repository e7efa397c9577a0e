"""The periodic read of the support mailbox (every CROSSCLAIM_IMAP_INTERVAL minutes)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from huey import crontab
from piccolo.utils.sync import run_sync

from app.queue import huey
from app.settings import Settings

log = logging.getLogger("crossclaim.mail")


def due(settings: Settings, now: datetime) -> bool:
    """Whether this minute is a read: every ``imap_interval`` minutes, counted from the hour."""
    interval = max(1, min(60, settings.imap_interval))
    return bool(settings.imap_url) and now.minute % interval == 0


def run_poll(settings: Settings | None = None) -> dict[str, object]:
    """One read of the mailbox; the same function behind the task and `crossclaim mail poll`."""
    from app.cases.events import configure_audit_key
    from app.evidence.services import EvidencePolicy
    from app.evidence.storage import store_from_url
    from app.mail.imap import MailboxUnavailable, poll_mailbox

    settings = settings or Settings.from_env()
    configure_audit_key(settings.secret_key)
    store = store_from_url(settings.evidence_url, settings.data_dir)
    try:
        summary = run_sync(poll_mailbox(settings, store=store, policy=EvidencePolicy()))
    except MailboxUnavailable as error:
        # The next read tries again; nothing was read, so nothing is lost.
        log.warning("mailbox not read: %s", error)
        return {"error": str(error)}
    log.info("mailbox read %s", json.dumps(summary.as_dict()))
    return summary.as_dict()


@huey.periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
def mailbox_poll() -> dict[str, object]:
    settings = Settings.from_env()
    if not due(settings, datetime.now(UTC)):
        return {}
    return run_poll(settings)
