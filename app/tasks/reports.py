"""The monthly report mailed to managers on the 1st, and the daily check of corrective actions."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from huey import crontab
from piccolo.utils.sync import run_sync

from app.queue import huey
from app.settings import Settings

log = logging.getLogger("crossclaim.reports")


async def _managers() -> dict[str, list[str]]:
    """Active managers' addresses by the language each reads."""
    from app.accounts.roles import Role
    from app.accounts.tables import User
    from app.i18n import DEFAULT_LANGUAGE, LANGUAGES

    rows = await User.select(User.email, User.language).where(
        (User.role == Role.MANAGER) & (User.active == True)  # noqa: E712
    )
    by_language: dict[str, list[str]] = {}
    for row in rows:
        language = row["language"] if row["language"] in LANGUAGES else DEFAULT_LANGUAGE
        by_language.setdefault(language, []).append(row["email"])
    return {language: sorted(emails) for language, emails in sorted(by_language.items())}


async def monthly_report_mail(settings: Settings, *, month: str) -> dict[str, object]:
    """Make the month's PDF in each manager's language and mail it to them; the same month twice mails twice."""
    import asyncio

    from app.analytics.report import monthly_pdf
    from app.i18n import current_language
    from app.i18n import gettext as _
    from app.notify.email import Attachment, Mail, send_mail
    from app.templating import template_environment

    environment = template_environment()
    readers = await _managers()
    if not readers:
        pdf = await monthly_pdf(environment, month)
        log.warning("monthly report %s made, but there is no active manager to send it to", month)
        return {"month": month, "sent_to": [], "bytes": len(pdf)}
    sizes = {}
    for language, recipients in readers.items():
        token = current_language.set(language)
        try:
            pdf = await monthly_pdf(environment, month)
            mail = Mail(
                to=recipients,
                subject=_("Crossclaim after-sales report %(month)s", month=month),
                text=_("The after-sales report for %(month)s is attached.", month=month) + "\n",
                attachments=[Attachment(f"crossclaim-{month}.pdf", pdf, "application/pdf")],
            )
        finally:
            current_language.reset(token)
        await asyncio.to_thread(send_mail, settings, mail)  # blocking SMTP stays off the event loop
        sizes[language] = len(pdf)
    sent_to = sorted(email for recipients in readers.values() for email in recipients)
    log.info("monthly report %s mailed to %d managers in %s", month, len(sent_to), ", ".join(readers))
    return {"month": month, "sent_to": sent_to, "bytes": sum(sizes.values()), "languages": sorted(readers)}


def send_monthly_report(settings: Settings, *, month: str) -> dict[str, object]:
    """The task's synchronous door (Huey runs plain functions)."""
    return run_sync(monthly_report_mail(settings, month=month))


@huey.periodic_task(crontab(day="1", hour="6", minute="0"))  # type: ignore[untyped-decorator]
def monthly_report() -> dict[str, object]:
    from app.analytics.report import previous_month

    return send_monthly_report(Settings.from_env(), month=previous_month(datetime.now(UTC).date()))


def check_effects(today: date | None = None) -> dict[str, int]:
    from app.analytics.services import effect_check_due

    return run_sync(effect_check_due(today=today or datetime.now(UTC).date()))


@huey.periodic_task(crontab(hour="5", minute="30"))  # type: ignore[untyped-decorator]
def corrective_action_effects() -> dict[str, int]:
    # An action's verdict comes from the data once its period is over, not from whoever closes it.
    return check_effects()
