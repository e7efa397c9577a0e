"""Case mails made answerable (signed reply address, recorded Message-ID, thread headers), and our messages mailed."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import getaddresses, make_msgid

import anyio.to_thread

from app.cases.events import Actor, record_event
from app.cases.tables import Case, Message
from app.collaboration.tables import AccessLink
from app.db import atomic
from app.i18n import current_language
from app.i18n import gettext as _
from app.mail.addresses import PARTY_CODES, reply_address, tag_for
from app.mail.tables import SentMail
from app.notify.email import Mail, send_mail
from app.settings import Settings

log = logging.getLogger("crossclaim.mail")

# How many earlier mails of a thread the References header names (the newest ones).
REFERENCES_KEPT = 10


def _domain(settings: Settings) -> str:
    address = getaddresses([settings.reply_address or settings.mail_from])[0][1]
    return address.rpartition("@")[2] or "crossclaim.localhost"


async def case_mail(
    settings: Settings, mail: Mail, *, case_id: int, number: str, party: str, now: datetime | None = None
) -> Mail:
    """``mail`` with Reply-To, X-Crossclaim-Tag, Message-ID, In-Reply-To and References; the Message-ID is kept."""
    if party not in PARTY_CODES:
        return mail
    now = now or datetime.now(UTC)
    message_id = make_msgid(domain=_domain(settings))
    earlier = (
        await SentMail.select(SentMail.message_id)
        .where((SentMail.case == case_id) & (SentMail.party == party))
        .order_by(SentMail.id, ascending=False)
        .limit(REFERENCES_KEPT)
    )
    headers = {
        **mail.headers,
        "Message-ID": message_id,
        "X-Crossclaim-Tag": tag_for(settings.secret_key, number, party),
    }
    if earlier:
        ids = [f"<{row['message_id']}>" for row in reversed(earlier)]
        headers["In-Reply-To"] = ids[-1]
        headers["References"] = " ".join(ids)
    async with atomic():
        await SentMail.insert(
            SentMail(
                message_id=message_id.strip("<>").lower(),
                case=case_id,
                party=party,
                recipient=(mail.to[0] if mail.to else "").lower()[:254],
                sent_at=now,
            )
        )
    tagged = reply_address(settings.reply_address, settings.secret_key, number, party)
    return replace(mail, reply_to=tagged or mail.reply_to, headers=headers)


async def message_mail(settings: Settings, *, message_id: int) -> Mail | None:
    """Our message to a party as a mail they can answer by replying; None without inbound mail or an address."""
    if not settings.reply_address:
        return None
    message = await Message.objects().where(Message.id == message_id).first()
    if message is None or message.author_kind != "user" or message.party not in PARTY_CODES:
        return None
    link = (
        await AccessLink.objects()
        .where(
            (AccessLink.case == message.case)
            & (AccessLink.party == message.party)
            & (AccessLink.email != "")
            & AccessLink.revoked_at.is_null()
        )
        .order_by(AccessLink.id, ascending=False)
        .first()
    )
    case = await Case.select(Case.number).where(Case.id == message.case).first()
    if link is None or case is None:
        return None
    marker = current_language.set(link.language)
    try:
        subject = _("After-sales case %(number)s: a new message", number=case["number"])
        footer = _("Answer by replying to this mail; your answer is added to the case.")
    finally:
        current_language.reset(marker)
    mail = Mail(to=[link.email], subject=subject, text=f"{message.body}\n\n-- \n{footer}\n")
    return await case_mail(settings, mail, case_id=message.case, number=case["number"], party=message.party)


async def send_message_mail(settings: Settings, *, message_id: int) -> None:
    """Mail our message to the party (after its commit); a failed send is on the timeline, never a lost message."""
    mail = await message_mail(settings, message_id=message_id)
    if mail is None:
        return
    row = await Message.select(Message.case, Message.party).where(Message.id == message_id).first()
    error = ""
    try:
        await anyio.to_thread.run_sync(send_mail, settings, mail)
    except Exception as failure:  # SMTP trouble of any kind: shown to staff, the message stays posted
        log.warning("message mail failed", extra={"message_id": message_id, "error": str(failure)})
        error = str(failure) or type(failure).__name__
    if row is not None:
        async with atomic():
            await record_event(
                case_id=row["case"],
                actor=Actor.system(),
                kind="message_mail_failed" if error else "message_mail_sent",
                data={"message_id": message_id, "party": row["party"], "error": error[:500]},
            )
