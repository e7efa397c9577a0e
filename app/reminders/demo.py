"""Reminder history for the demo data: the sweep replayed over the last days, mail into the outbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from app.reminders.sweep import sweep
from app.settings import Settings


async def reminder_history(*, today: date, days: int = 10) -> dict[str, int]:
    """Run a sweep at 11:00 Shanghai time on each of the last ``days`` days and today, as a worker would have."""
    # Demo mail never leaves the machine: it goes to the outbox folder, whatever SMTP is configured.
    settings = replace(Settings.from_env(), smtp_url="", sms_url="")
    totals = {"sent": 0, "skipped": 0, "failed": 0}
    for back in range(days, -1, -1):
        moment = datetime.combine(today - timedelta(days=back), time(3, 0), UTC)
        summary = await sweep(settings=settings, now=moment)
        for key in totals:
            totals[key] += getattr(summary, key)
    return totals
