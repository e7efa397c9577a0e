"""What a sweep records: each reminder's outcome, one timeline event per case and step, and its counts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from app.cases.events import Actor, record_events
from app.reminders.batches import CHUNK
from app.reminders.messages import CUSTOMER_LEVELS
from app.rules.facts import N_
from app.tracking.tables import Reminder

MAX_ATTEMPTS = 5


# Stored with the claim: the sweep that inserted it sends it now; a crash leaves it for the lease.
SWEEPER = Actor.system(N_("Reminder sweep"))


@dataclass
class SweepSummary:
    due: int = 0  # clocks that reached an escalation step
    sent: int = 0
    skipped: int = 0  # lower steps passed over while catching up, or held for quiet hours
    failed: int = 0
    retried: int = 0  # claims taken over from a sweep that died, or retried after a transient error

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class Outcome:
    sent: list[int] = field(default_factory=list)
    retry: list[tuple[int, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


async def record_outcome(reminders: list[dict[str, Any]], outcome: Outcome, now: datetime) -> None:
    """Statuses in a few statements, and one timeline event per case, node and step."""
    attempts = {r["id"]: r["attempts"] for r in reminders}
    for start in range(0, len(outcome.sent), CHUNK):
        chunk = outcome.sent[start : start + CHUNK]
        await Reminder.update(
            {
                Reminder.status: "sent",
                Reminder.sent_at: now,
                Reminder.error: "",
                Reminder.attempts: Reminder.attempts + 1,
            }
        ).where(Reminder.id.is_in(chunk))
    for reminder_id, error in outcome.retry:
        # Transient: stays claimed, so the next sweep after the lease tries again, up to MAX_ATTEMPTS.
        final = attempts.get(reminder_id, 0) + 1 >= MAX_ATTEMPTS
        await Reminder.update(
            {
                Reminder.status: "failed" if final else "claimed",
                Reminder.error: error,
                Reminder.attempts: Reminder.attempts + 1,
            }
        ).where(Reminder.id == reminder_id)
    for reminder_id, error in outcome.failed:
        await Reminder.update(
            {Reminder.status: "failed", Reminder.error: error, Reminder.attempts: Reminder.attempts + 1}
        ).where(Reminder.id == reminder_id)
    for reminder_id, error in outcome.skipped:
        await Reminder.update({Reminder.status: "skipped", Reminder.error: error}).where(Reminder.id == reminder_id)
    status = {i: "sent" for i in outcome.sent} | {i: "failed" for i, _ in [*outcome.retry, *outcome.failed]}
    status |= {i: "skipped" for i, _ in outcome.skipped}
    groups: dict[tuple[int, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for reminder in reminders:
        kind = "customer_updated" if reminder["level"] in CUSTOMER_LEVELS else "reminder_sent"
        if status.get(reminder["id"]) == "failed":
            kind = "reminder_failed"
        if status.get(reminder["id"]) == "skipped":
            continue  # nothing was sent and nothing went wrong: not worth a line on the timeline
        groups[(reminder["case"], reminder["node"], reminder["level"], kind)].append(reminder)
    await _record_events(
        [
            (
                case_id,
                kind,
                {"node": node, "level": level, "to": sorted(f"{m['channel']}:{m['recipient']}" for m in members)},
            )
            for (case_id, node, level, kind), members in sorted(groups.items())
        ],
        now,
    )


async def _record_events(entries: list[tuple[int, str, dict[str, Any]]], now: datetime) -> None:
    """The sweep's events for many cases at once, through the one event writer; inside a transaction."""
    await record_events(entries, actor=SWEEPER, at=now)


async def retry_failed(*, reminder_id: int) -> None:
    """An admin's retry: the claim goes back to the queue and the next sweep sends it."""
    await Reminder.update({Reminder.status: "queued", Reminder.attempts: 0}).where(
        (Reminder.id == reminder_id) & (Reminder.status == "failed")
    )
