"""The mail that sends a pushed case to its supplier or carrier (one push or a bulk push from the grid)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import anyio.to_thread
from litestar import Request
from markupsafe import escape

from app.cases.taxonomy import REMEDIES
from app.collaboration import claim_pack, services
from app.i18n import current_language, format_day
from app.i18n import gettext as _
from app.mail.outgoing import case_mail
from app.notify.email import Attachment, Mail, send_mail
from app.settings import Settings
from app.web.templates import request_environment
from app.web.uploads import evidence_store

log = logging.getLogger("crossclaim.collaboration")


def push_mail(
    settings: Settings, pushed: services.Pushed, *, requirement: str, reply_by: date, pdf: bytes | None
) -> Mail:
    """The mail to the party, in the party's language, with the link (and the claim pack when asked)."""
    url = f"{settings.base_url}/l/{pushed.token}"
    marker = current_language.set(pushed.link.language)
    try:
        subject = _("After-sales case %(number)s: your answer is needed", number=pushed.case.number)
        lines = [
            _("We ask for: %(remedy)s.", remedy=str(REMEDIES.get(requirement, requirement))),
            *([_("Our note: %(note)s", note=pushed.note)] if pushed.note else []),
            _("Please answer by %(day)s.", day=format_day(reply_by)),
            _("Open the case (no account needed):"),
        ]
    finally:
        current_language.reset(marker)
    text = "\n".join([*lines, url, ""])
    html = "".join(f"<p>{escape(line)}</p>" for line in lines) + f'<p><a href="{escape(url)}">{escape(url)}</a></p>'
    attachments = [Attachment(f"{pushed.case.number}-claim-pack.pdf", pdf, "application/pdf")] if pdf else []
    return Mail(to=[pushed.link.email], subject=subject, text=text, html=html, attachments=attachments)


async def deliver_push(
    request: Request[Any, Any, Any], pushed: services.Pushed, *, requirement: str, reply_by: date, attach_pack: bool
) -> None:
    """Mail a pushed case to its party (with the claim pack when asked) and record how the mail went."""
    settings: Settings = request.app.state.settings
    number = pushed.case.number
    pdf = None
    if attach_pack:
        # The party's pack is written in the party's language, whatever the handler reads.
        marker = current_language.set(pushed.link.language)
        try:
            context = await claim_pack.claim_pack_context(
                number, store=evidence_store(request), party=pushed.link.party
            )
            pdf = await claim_pack.claim_pack_pdf(request_environment(request), context)
        finally:
            current_language.reset(marker)
    mail = push_mail(settings, pushed, requirement=requirement, reply_by=reply_by, pdf=pdf)
    mail = await case_mail(settings, mail, case_id=pushed.case.id, number=number, party=pushed.link.party)
    # Sent after the commit, in a worker thread; the token exists only in this request and the mail.
    error = ""
    try:
        await anyio.to_thread.run_sync(send_mail, settings, mail)
    except Exception as failure:  # any SMTP trouble is shown on the case, never a lost push
        log.warning("push mail failed", extra={"case": number, "error": str(failure)})
        error = str(failure) or type(failure).__name__
    await services.mail_result(case_id=pushed.case.id, link_id=pushed.link.id, error=error)
