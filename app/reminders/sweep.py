"""The reminder sweep: claim each due escalation step once, deliver it, and repair what a crash left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.faults import fault_point
from app.reminders.claims import LEASE, claim_due, claim_plan_answers, take_over
from app.reminders.delivery import deliver
from app.reminders.record import SweepSummary
from app.settings import Settings
from app.tracking.policies import current_policy


async def sweep(*, settings: Settings, now: datetime | None = None, lease: timedelta = LEASE) -> SweepSummary:
    """One sweep as of ``now``: safe to run twice, or in two workers at once (each step goes once)."""
    now = now or datetime.now(UTC)
    summary = SweepSummary()
    policy = current_policy()
    fresh = await claim_due(policy=policy, settings=settings, now=now, summary=summary)
    fresh += await claim_plan_answers(policy=policy, now=now)
    taken = await take_over(now=now, lease=lease)
    summary.retried = len(taken)
    fault_point("sweep.after_claim")  # the crash-repair tests die here: claims written, nothing sent
    await deliver(settings=settings, ids=[*fresh, *taken], now=now, summary=summary)
    return summary
