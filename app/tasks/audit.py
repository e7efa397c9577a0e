"""The periodic audit checkpoint: every five minutes the worker verifies the timelines and anchors their heads."""

from __future__ import annotations

import json
import logging

from huey import crontab
from piccolo.utils.sync import run_sync

from app.queue import huey
from app.settings import Settings

log = logging.getLogger("crossclaim.audit")


def run_checkpoint(settings: Settings | None = None) -> dict[str, object]:
    """Verify every chain and, when all hold, write the signed checkpoint; the task and the CLI share it."""
    from app.audit import audit_checkpoint
    from app.cases.events import configure_audit_key

    settings = settings or Settings.from_env()
    configure_audit_key(settings.secret_key)
    report = run_sync(audit_checkpoint(settings.data_dir))
    if report.ok:
        log.info("audit checkpoint %s", json.dumps({"cases": report.cases, "events": report.events}))
    else:
        # Nothing is overwritten: the previous checkpoint is what the broken chains are measured against.
        log.error("audit chain broken %s", json.dumps(report.to_dict(), default=str))
    return report.to_dict()


@huey.periodic_task(crontab(minute="*/5"))  # type: ignore[untyped-decorator]
def audit_checkpoint_task() -> dict[str, object]:
    return run_checkpoint()
