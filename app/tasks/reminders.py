"""The periodic reminder sweep: every minute, and once when the worker starts to catch up."""

from __future__ import annotations

import json
import logging
from datetime import datetime

from huey import crontab
from piccolo.utils.sync import run_sync

from app.queue import huey
from app.settings import Settings

log = logging.getLogger("crossclaim.reminders")


def run_sweep(settings: Settings | None = None, now: datetime | None = None) -> dict[str, int]:
    """One sweep as of now; the same function behind the task and `crossclaim remind sweep`."""
    from app.cases.events import configure_audit_key
    from app.reminders.sweep import sweep
    from app.tracking.policies import configure_policy

    settings = settings or Settings.from_env()
    configure_policy(settings.data_dir)
    configure_audit_key(settings.secret_key)
    summary = run_sync(sweep(settings=settings, now=now))
    log.info("reminder sweep %s", json.dumps(summary.as_dict()))
    return summary.as_dict()


@huey.periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
def reminder_sweep() -> dict[str, int]:
    # A clock that passed a step while the worker was down is still due (next_check_at <= now),
    # so the first run after a restart catches up by itself.
    return run_sweep()


@huey.on_startup()  # type: ignore[untyped-decorator]
def reminder_catch_up() -> None:
    huey.enqueue(reminder_sweep.s())
