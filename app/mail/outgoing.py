"""Case mails made answerable (signed reply address, recorded Message-ID, thread headers), and our messages mailed."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from email.utils import getaddresses, make_msgid

import anyio.to_thread
from markupsafe import escape

from app.cases.events import Actor, record_event
from app.cases.tables import Case, Message
from app.cases.taxonomy import PROBLEM_TYPES, REMEDIES
from app.collaboration import visibility
from app.collaboration.services import Pushed
from app.collaboration.tables import AccessLink, Dispute
from app.db import atomic
from app.i18n import current_language, format_day, format_number, lazy_gettext
from app.i18n import gettext as _
from app.mail.addresses import PARTY_CODES, reply_address, tag_for
from app.mail.tables import SentMail
from app.notify.email import Attachment, Mail, send_mail
from app.settings import Settings
from app.trade.tables import Carrier, OrderLine, Product, Supplier

log = logging.getLogger("crossclaim.mail")

# How many earlier mails of a thread the References header names (the newest ones).
REFERENCES_KEPT = 10
# Rows per statement when many mails are threaded at once (well under SQLite's bound-parameter limit).
CHUNK = 500


def _domain(settings: Settings) -> str:
    address = getaddresses([settings.reply_address or settings.mail_from])[0][1]
    return address.rpartition("@")[2] or "crossclaim.localhost"


async def case_mail(
    settings: Settings, mail: Mail, *, case_id: int, number: str, party: str, now: datetime | None = None
) -> Mail:
    """``mail`` with Reply-To, X-Crossclaim-Tag, Message-ID, In-Reply-To and References; the Message-ID is kept."""
    return (await case_mails(settings, [(mail, case_id, number, party)], now=now))[0]


async def case_mails(
    settings: Settings, drafts: Sequence[tuple[Mail, int, str, str | None]], *, now: datetime | None = None
) -> list[Mail]:
    """Many case mails at once, each as ``case_mail`` makes it (a mail whose party is None goes as it is).

    One read of the threads' earlier Message-IDs and one write of the new ones, in one transaction: a
    reminder sweep mails a thousand parties, and a transaction per mail costs a disk flush each on SQLite.
    """
    now = now or datetime.now(UTC)
    threads = {(case_id, party) for _mail, case_id, _number, party in drafts if party in PARTY_CODES}
    earlier: dict[tuple[int, str], list[str]] = defaultdict(list)
    case_ids = sorted({case_id for case_id, _party in threads})
    for start in range(0, len(case_ids), CHUNK):
        rows = (
            await SentMail.select(SentMail.case, SentMail.party, SentMail.message_id)
            .where(SentMail.case.is_in(case_ids[start : start + CHUNK]))
            .order_by(SentMail.id)
        )
        for row in rows:
            if (row["case"], row["party"]) in threads:
                earlier[(row["case"], row["party"])].append(row["message_id"])
    domain = _domain(settings)
    made: list[Mail] = []
    records: list[SentMail] = []
    for mail, case_id, number, party in drafts:
        if party not in PARTY_CODES:
            made.append(mail)
            continue
        message_id = make_msgid(domain=domain)
        headers = {
            **mail.headers,
            "Message-ID": message_id,
            "X-Crossclaim-Tag": tag_for(settings.secret_key, number, party),
        }
        thread = earlier[(case_id, party)]
        if thread:
            ids = [f"<{known}>" for known in thread[-REFERENCES_KEPT:]]
            headers["In-Reply-To"] = ids[-1]
            headers["References"] = " ".join(ids)
        thread.append(message_id.strip("<>").lower())  # a second mail of this batch answers the first
        recipient = (mail.to[0] if mail.to else "").lower()[:254]
        records.append(SentMail(message_id=thread[-1], case=case_id, party=party, recipient=recipient, sent_at=now))
        tagged = reply_address(settings.reply_address, settings.secret_key, number, party)
        made.append(replace(mail, reply_to=tagged or mail.reply_to, headers=headers))
    if records:
        async with atomic():
            for start in range(0, len(records), CHUNK):
                await SentMail.insert(*records[start : start + CHUNK])
    return made


async def _claim_lines(case_id: int, party: str) -> tuple[str, list[str]]:
    """Whom the push mail greets (the supplier's or carrier's name) and what the claim is about, in the
    current language: the order and its line, the product, and how many of how many delivered are affected."""
    case = await Case.objects().where(Case.id == case_id).first()
    if case is None:
        return "", []
    table = Supplier if party == "supplier" else Carrier
    party_id = case.supplier if party == "supplier" else case.carrier
    row = await table.select(table.name).where(table.id == party_id).first() if party_id else None
    line = await OrderLine.objects().where(OrderLine.id == case.order_line).first() if case.order_line else None
    product_id = case.product or (line.product if line else None)
    product = await Product.objects().where(Product.id == product_id).first() if product_id else None
    lines = [_("Problem: %(problem)s", problem=str(PROBLEM_TYPES.get(case.problem_type, case.problem_type)))]
    if case.order_number:
        if line is not None:
            lines.append(_("Order: %(order)s, line %(line)s", order=case.order_number, line=line.line_no))
        else:
            lines.append(_("Order: %(order)s", order=case.order_number))
    if product is not None:
        lines.append(_("Product: %(sku)s %(name)s", sku=product.sku, name=product.name))
    if line is not None and line.quantity_delivered:
        lines.append(
            _(
                "Quantity affected: %(affected)s of %(delivered)s delivered",
                affected=format_number(case.quantity_affected),
                delivered=format_number(line.quantity_delivered),
            )
        )
    else:
        lines.append(_("Quantity affected: %(affected)s", affected=format_number(case.quantity_affected)))
    return str((row or {}).get("name") or ""), lines


async def push_mail(settings: Settings, pushed: Pushed, *, requirement: str, reply_by: date, pdf: bytes | None) -> Mail:
    """The mail that sends a case to its supplier or carrier, in the party's language: a greeting by name,
    what the claim is about (order line, product, quantities), what we ask for and by when, and the link."""
    url = f"{settings.base_url}/l/{pushed.token}"
    marker = current_language.set(pushed.link.language)
    try:
        name, about = await _claim_lines(pushed.case.id, pushed.link.party)
        subject = _("After-sales case %(number)s: your answer is needed", number=pushed.case.number)
        lines = [
            _("Dear %(name)s,", name=name) if name else _("Hello,"),
            _("We have an after-sales claim for you: case %(number)s.", number=pushed.case.number),
            *about,
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


# What a decision means, in the words each party reads it.
DECISION_WORDS: dict[str, str] = {
    "supplier": lazy_gettext("The supplier is responsible."),
    "carrier": lazy_gettext("The carrier is responsible."),
    "purchaser": lazy_gettext("We, the purchaser, are responsible."),
    "shared": lazy_gettext("Responsibility is shared."),
}


async def decision_mails(settings: Settings, *, dispute_id: int) -> list[tuple[str, Mail]]:
    """The decision for each party whose view holds the dispute, in its link's language, with the rationale."""
    dispute = await Dispute.objects().where(Dispute.id == dispute_id).first()
    case = await Case.select(Case.number).where(Case.id == (dispute.case if dispute else 0)).first()
    if dispute is None or case is None or dispute.decided_at is None:
        return []
    out = []
    for party in ("supplier", "carrier"):
        view = await visibility.party_view(dispute.case, party)
        if dispute.id not in view.dispute_ids:
            continue
        link = (
            await AccessLink.objects()
            .where(
                (AccessLink.case == dispute.case)
                & (AccessLink.party == party)
                & (AccessLink.email != "")
                & AccessLink.revoked_at.is_null()
            )
            .order_by(AccessLink.id, ascending=False)
            .first()
        )
        if link is None:
            continue
        marker = current_language.set(link.language)
        try:
            subject = _("After-sales case %(number)s: the mediation is decided", number=case["number"])
            text = "\n\n".join(
                [
                    str(DECISION_WORDS.get(dispute.decision, dispute.decision)),
                    _("Why: %(rationale)s", rationale=dispute.rationale),
                    _("The case now moves on to the plan. Open your link to see it."),
                ]
            )
        finally:
            current_language.reset(marker)
        mail = Mail(to=[link.email], subject=subject, text=text + "\n")
        out.append((party, await case_mail(settings, mail, case_id=dispute.case, number=case["number"], party=party)))
    return out


async def send_decision_mails(settings: Settings, *, dispute_id: int) -> None:
    """Mail the decision to the parties concerned (after its commit); a failed send is on the timeline."""
    dispute = await Dispute.select(Dispute.case).where(Dispute.id == dispute_id).first()
    for party, mail in await decision_mails(settings, dispute_id=dispute_id):
        error = ""
        try:
            await anyio.to_thread.run_sync(send_mail, settings, mail)
        except Exception as failure:  # SMTP trouble of any kind: shown to staff, the decision stands
            log.warning("decision mail failed", extra={"dispute_id": dispute_id, "error": str(failure)})
            error = str(failure) or type(failure).__name__
        async with atomic():
            await record_event(
                case_id=dispute["case"] if dispute else 0,
                actor=Actor.system(),
                kind="decision_mail_failed" if error else "decision_mail_sent",
                data={"dispute_id": dispute_id, "party": party, "error": error[:500]},
            )
