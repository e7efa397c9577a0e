"""Case mails made answerable: the signed reply address, our Message-ID recorded, and thread headers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email.utils import getaddresses, make_msgid

from app.db import atomic
from app.mail.addresses import PARTY_CODES, reply_address, tag_for
from app.mail.tables import SentMail
from app.notify.email import Mail
from app.settings import Settings

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
