"""Claims: each escalation step that fell due, written once as a reminder row, and those a dead sweep left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app import db
from app.reminders import plan_answers
from app.reminders.batches import CHUNK, as_datetime
from app.reminders.recipients import Recipients, party_for
from app.reminders.record import SweepSummary
from app.settings import Settings
from app.tracking.policies import Policy
from app.tracking.services import next_check, step_time
from app.tracking.tables import Reminder, StageDeadline

# A claim not confirmed as sent within the lease belongs to a sweep that died: the next sweep takes it.
LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class Claim:
    key: str
    case_id: int
    node: str
    level: str
    channel: str
    recipient: str


def claim_key(case_id: int, node: str, deadline_id: int, level: str, channel: str, recipient: str) -> str:
    # The node visit (its StageDeadline id) is part of the key: a case back in a node is a new clock.
    return f"{case_id}:{node}#{deadline_id}:{level}:{channel}:{recipient}"[:255]


async def claim_due(*, policy: Policy, settings: Settings, now: datetime, summary: SweepSummary) -> list[int]:
    """Insert the claim rows of every step that fell due; returns the ids this sweep won."""
    rows = await StageDeadline.raw(
        'SELECT d.id, d."case" AS case_id, d.node, d.owner_party, d.started_at, d.due_at, d.next_check_at,'
        " c.problem_type, c.assignee AS assignee_id, c.supplier AS supplier_id, c.carrier AS carrier_id"
        ' FROM stage_deadline d JOIN after_sales_case c ON c.id = d."case"'
        " WHERE d.finished_at IS NULL AND d.next_check_at IS NOT NULL AND d.next_check_at <= {}",
        now,
    )
    summary.due = len(rows)
    if not rows:
        return []
    people = await Recipients.load(rows, sms=bool(settings.sms_url))
    claims: list[Claim] = []
    next_checks: list[tuple[int, datetime | None]] = []
    for row in rows:
        started, due, checked = (as_datetime(row[k]) for k in ("started_at", "due_at", "next_check_at"))
        reached = [s for s in policy.ladder if checked - timedelta(seconds=1) <= step_time(started, due, s) <= now]
        if not reached:
            next_checks.append((row["id"], next_check(policy, started, due, now)))
            continue
        summary.skipped += len(reached) - 1  # catching up: only the highest step reached goes out
        step = reached[-1]
        deferred = False
        for role in step.notify:
            party = party_for(role, row)
            for channel, recipient, zone in people.addresses(party, row):
                if channel != "inapp" and policy.in_quiet_hours(now, zone):
                    deferred = True
                    summary.skipped += 1
                    continue
                key = claim_key(row["case_id"], row["node"], row["id"], step.level, channel, recipient)
                claims.append(Claim(key, row["case_id"], row["node"], step.level, channel, recipient))
        # Held back for quiet hours: the clock stays due, and the next sweep adds the missing claims.
        next_checks.append((row["id"], checked if deferred else next_check(policy, started, due, now)))
    won: list[int] = []
    async with db.atomic():
        for start in range(0, len(claims), CHUNK):
            won.extend(await _insert_claims(claims[start : start + CHUNK], now))
        for start in range(0, len(next_checks), CHUNK):
            await _set_next_checks(next_checks[start : start + CHUNK])
    return won


async def claim_plan_answers(*, policy: Policy, now: datetime) -> list[int]:
    """One reminder per agreed plan the customer has not answered within the policy's hours (mail only)."""
    due = await plan_answers.unanswered_plans(hours=policy.plan_answer_hours, now=now)
    claims = [Claim(p.claim_key, p.case_id, "plan", plan_answers.LEVEL, "email", p.email) for p in due]
    async with db.atomic():
        return await _insert_claims(claims, now)


async def _insert_claims(claims: list[Claim], now: datetime) -> list[int]:
    if not claims:
        return []
    placeholders = ", ".join("({}, {}, {}, {}, {}, {}, 'claimed', 0, '', {})" for _ in claims)
    values: list[Any] = []
    for claim in claims:
        values += [claim.key, claim.case_id, claim.node, claim.level, claim.channel, claim.recipient, now]
    columns = 'claim_key, "case", node, level, channel, recipient, status, attempts, error, claimed_at'
    sql = f"INSERT INTO reminder ({columns}) VALUES {placeholders} ON CONFLICT (claim_key) DO NOTHING RETURNING id"  # noqa: S608 - placeholders only
    rows = await Reminder.raw(sql, *values)
    return [int(r["id"]) for r in rows]


async def _set_next_checks(pairs: list[tuple[int, datetime | None]]) -> None:
    if not pairs:
        return
    cast = "{}" if db.is_sqlite(db.current_engine()) else "CAST({} AS TIMESTAMPTZ)"
    cases = " ".join(f"WHEN {{}} THEN {cast}" for _ in pairs)
    values: list[Any] = []
    for deadline_id, at in pairs:
        values += [deadline_id, at]
    ids = ", ".join("{}" for _ in pairs)
    await StageDeadline.raw(
        f"UPDATE stage_deadline SET next_check_at = CASE id {cases} END WHERE id IN ({ids})",  # noqa: S608
        *values,
        *[deadline_id for deadline_id, _ in pairs],
    )


async def take_over(*, now: datetime, lease: timedelta) -> list[int]:
    """Claims queued for sending, or claimed by a sweep that did not confirm within the lease."""
    async with db.atomic():
        rows = await Reminder.raw(
            "UPDATE reminder SET claimed_at = {}, status = 'claimed'"
            " WHERE status = 'queued' OR (status = 'claimed' AND claimed_at < {}) RETURNING id",
            now,
            now - lease,
        )
    return [int(r["id"]) for r in rows]
