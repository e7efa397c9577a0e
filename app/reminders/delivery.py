"""Sending claimed reminders by their channels: mail, web push, SMS and the in-app bell."""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from datetime import datetime
from typing import Any

from app import db
from app.mail.outgoing import case_mails
from app.notify.email import send_mails
from app.notify.inapp import notify_users
from app.notify.push import PushFailed, PushTarget, SubscriptionGone, send_push
from app.notify.sms import PermanentSmsError, TransientSmsError, sms_provider
from app.notify.tables import PushSubscription
from app.reminders.batches import CHUNK, select_in
from app.reminders.messages import Messages
from app.reminders.record import Outcome, SweepSummary, record_outcome
from app.rules.facts import N_
from app.settings import Settings
from app.tracking.tables import Reminder


async def deliver(*, settings: Settings, ids: list[int], now: datetime, summary: SweepSummary) -> None:
    """Send the claims in ``ids`` by their channels and record each outcome and a case event."""
    if not ids:
        return
    reminders: list[dict[str, Any]] = []
    for start in range(0, len(ids), CHUNK):
        reminders.extend(
            await Reminder.select(
                Reminder.id,
                Reminder.case,
                Reminder.node,
                Reminder.level,
                Reminder.channel,
                Reminder.recipient,
                Reminder.attempts,
            ).where(Reminder.id.is_in(ids[start : start + CHUNK]))
        )
    context = await Messages.load(reminders)
    outcome = Outcome()
    by_channel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for reminder in reminders:
        by_channel[reminder["channel"]].append(reminder)
    if by_channel["email"]:
        drafts = [await context.mail(settings, r, now) for r in by_channel["email"]]
        mails = await case_mails(settings, drafts, now=now)
        deliveries = await asyncio.to_thread(send_mails, settings, mails)
        for reminder, delivery in zip(by_channel["email"], deliveries, strict=True):
            if delivery.status == "sent":
                outcome.sent.append(reminder["id"])
            else:
                refused = outcome.failed if delivery.status == "failed" else outcome.retry
                refused.append((reminder["id"], delivery.error))
    if by_channel["push"]:
        await _send_pushes(settings, by_channel["push"], context, outcome)
    if by_channel["sms"]:
        texts = {}
        for reminder in by_channel["sms"]:
            if reminder["level"] == "update":
                if not settings.sms_url:
                    continue  # no provider: the customer's update goes by mail only
                text, follow, link = await context.customer_message(settings, reminder, now)
                texts[reminder["id"]] = f"{text} {follow} {link}"
            else:
                texts[reminder["id"]] = context.text(reminder)
        await asyncio.to_thread(_send_sms, settings, by_channel["sms"], texts, outcome)
    async with db.atomic():
        await notify_users(
            [(int(r["recipient"].split(":")[1]), r["case"], context.text(r)) for r in by_channel["inapp"]], now=now
        )
        outcome.sent.extend(r["id"] for r in by_channel["inapp"])
        await record_outcome(reminders, outcome, now)
    summary.sent += len(outcome.sent)
    summary.failed += len(outcome.failed) + len(outcome.retry)
    summary.skipped += len(outcome.skipped)


async def _send_pushes(
    settings: Settings, reminders: list[dict[str, Any]], context: Messages, outcome: Outcome
) -> None:
    user_ids = {int(r["recipient"].split(":")[1]) for r in reminders}
    subscriptions = await select_in(
        lambda: PushSubscription.select(
            PushSubscription.id, PushSubscription.user, PushSubscription.endpoint, PushSubscription.keys
        ),
        PushSubscription.user,
        user_ids,
    )
    by_user: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for subscription in subscriptions:
        by_user[subscription["user"]].append(subscription)
    gone: list[int] = []
    for reminder in reminders:
        number = context.numbers.get(reminder["case"], "")
        payload = {"title": f"Crossclaim {number}", "body": context.text(reminder), "url": f"/cases/{number}"}
        delivered, errors = 0, []
        for subscription in by_user.get(int(reminder["recipient"].split(":")[1]), []):
            keys = subscription["keys"] if isinstance(subscription["keys"], dict) else _json(subscription["keys"])
            target = PushTarget(subscription["endpoint"], keys.get("p256dh", ""), keys.get("auth", ""))
            try:
                await asyncio.to_thread(
                    functools.partial(send_push, allowed_hosts=settings.push_hosts),
                    settings.data_dir,
                    settings.mail_from,
                    target,
                    payload,
                )
                delivered += 1
            except SubscriptionGone:
                gone.append(subscription["id"])
            except PushFailed as error:
                errors.append(str(error)[:300])
        if delivered:
            outcome.sent.append(reminder["id"])
        elif errors:
            outcome.retry.append((reminder["id"], "; ".join(errors)))
        else:
            outcome.failed.append((reminder["id"], "no live push subscription"))
    if gone:
        await PushSubscription.delete().where(PushSubscription.id.is_in(gone))


def _json(value: Any) -> dict[str, Any]:
    import json

    try:
        loaded = json.loads(value or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _send_sms(settings: Settings, reminders: list[dict[str, Any]], texts: dict[int, str], outcome: Outcome) -> None:
    provider = sms_provider(settings.sms_url)
    for reminder in reminders:
        if provider is None or reminder["id"] not in texts:
            outcome.skipped.append((reminder["id"], N_("no SMS provider configured")))
            continue
        try:
            provider.send(reminder["recipient"], texts[reminder["id"]])
            outcome.sent.append(reminder["id"])
        except PermanentSmsError as error:
            outcome.failed.append((reminder["id"], str(error)[:500]))
        except TransientSmsError as error:
            outcome.retry.append((reminder["id"], str(error)[:500]))
