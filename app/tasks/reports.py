"""The monthly report mailed to managers on the 1st, and the daily check of corrective actions."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from huey import crontab
from piccolo.utils.sync import run_sync

from app.settings import Settings
from app.tasks.queue import huey

log = logging.getLogger("crossclaim.reports")


async def _managers() -> list[str]:
    from app.accounts.roles import Role
    from app.accounts.tables import User

    rows = await User.select(User.email).where((User.role == Role.MANAGER) & (User.active == True))  # noqa: E712
    return sorted(row["email"] for row in rows)


async def monthly_report_mail(settings: Settings, *, month: str) -> dict[str, object]:
    """Make the month's PDF and mail it to every active manager; the same month twice mails twice."""
    import asyncio

    from app.analytics.report import monthly_pdf
    from app.notify.email import Attachment, Mail, send_mail

    recipients = await _managers()
    pdf = await monthly_pdf(month)
    if not recipients:
        log.warning("monthly report %s made, but there is no active manager to send it to", month)
        return {"month": month, "sent_to": [], "bytes": len(pdf)}
    mail = Mail(
        to=recipients,
        subject=f"Crossclaim after-sales report {month} / 售后月报 {month}",
        text=f"The after-sales report for {month} is attached.\n{month} 售后月报见附件。\n",
        attachments=[Attachment(f"crossclaim-{month}.pdf", pdf, "application/pdf")],
    )
    await asyncio.to_thread(send_mail, settings, mail)  # blocking SMTP stays off the event loop
    log.info("monthly report %s mailed to %d managers", month, len(recipients))
    return {"month": month, "sent_to": recipients, "bytes": len(pdf)}


def send_monthly_report(settings: Settings, *, month: str) -> dict[str, object]:
    """The task's synchronous door (Huey runs plain functions)."""
    return run_sync(monthly_report_mail(settings, month=month))


@huey.periodic_task(crontab(day="1", hour="6", minute="0"))
def monthly_report() -> dict[str, object]:
    from app.analytics.report import previous_month

    return send_monthly_report(Settings.from_env(), month=previous_month(datetime.now(UTC).date()))


def check_effects(today: date | None = None) -> dict[str, int]:
    from app.analytics.services import effect_check_due

    return run_sync(effect_check_due(today=today or datetime.now(UTC).date()))


@huey.periodic_task(crontab(hour="5", minute="30"))
def corrective_action_effects() -> dict[str, int]:
    # An action's verdict comes from the data once its period is over, not from whoever closes it.
    return check_effects()
