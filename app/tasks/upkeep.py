"""Database upkeep: every hour the worker refreshes the planners' statistics where the data moved."""

from __future__ import annotations

import json
import logging

from huey import crontab
from piccolo.utils.sync import run_sync

from app.db import refresh_statistics
from app.queue import huey

log = logging.getLogger("crossclaim.upkeep")


@huey.periodic_task(crontab(minute="17"))  # type: ignore[untyped-decorator]
def planner_statistics() -> list[str]:
    analysed = run_sync(refresh_statistics())
    if analysed:
        log.info("planner statistics refreshed %s", json.dumps({"tables": analysed}))
    return analysed
