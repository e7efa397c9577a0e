"""One inbound mail into Crossclaim: kept raw, deduplicated, attributed, then posted, quarantined or recorded."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread

from app.cases import states
from app.cases.events import Actor, record_event
from app.cases.tables import Case, Message
from app.collaboration.tables import AccessLink
from app.db import atomic
from app.errors import Conflict, NotFound, ValidationFailed
from app.evidence.services import EvidencePolicy, Upload, evidence_attach, prepare_uploads, uploader_id
from app.evidence.storage import EvidenceStore
from app.i18n import gettext as _
from app.mail.addresses import read_tag, tags_in
from app.mail.parsing import InboundMessage, parse_mail
from app.mail.tables import FailingAddress, InboundMail, SentMail
from app.notify.inapp import notify_users
from app.settings import Settings
from app.trade.tables import Carrier, Customer, Supplier

log = logging.getLogger("crossclaim.mail")

# Threads a mail can land in: the counterparties' threads and the customer's.
MAIL_PARTIES = ("supplier", "carrier", "customer")
POSTED, QUARANTINED, AUTO_REPLY, BOUNCE, REJECTED = "posted", "quarantined", "auto_reply", "bounce", "rejected"
DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Attribution:
    """The case and party a mail belongs to, or why that is not known (reason)."""

    case: Case | None = None
    party: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Ingested:
    status: str
    inbound_id: int | None = None
    case_number: str = ""
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "inbound_id": self.inbound_id, "case": self.case_number, "reason": self.reason}


def mail_key(parsed: InboundMessage, raw_sha256: str) -> str:
    """The dedupe key: the Message-ID, or the raw bytes' hash for a mail without one."""
    if not parsed.message_id:
        return f"sha256:{raw_sha256}"
    if len(parsed.message_id) > 200:
        return "sha256-id:" + hashlib.sha256(parsed.message_id.encode()).hexdigest()
    return parsed.message_id


async def attribute(parsed: InboundMessage, settings: Settings) -> Attribution:
    """From the signed reply address (or tag header), else from the thread headers matching mail we sent."""
    tags = tags_in(parsed.recipients, settings.reply_address, settings.secret_key)
    for text in [parsed.tag_header, *parsed.original_tags]:
        tag = read_tag(text, settings.secret_key) if text else None
        if tag is not None:
            tags.append(tag)
    if tags:
        valid = [tag for tag in tags if tag.valid]
        if not valid:
            return Attribution(reason="forged_tag")
        case = await Case.objects().where(Case.number == valid[0].number).first()
        if case is None:
            return Attribution(reason="unattributable")
        return Attribution(case=case, party=valid[0].party)
    ids = [i for i in parsed.thread_ids if i][:50]
    if ids:
        sent = await SentMail.select(SentMail.case, SentMail.party).where(SentMail.message_id.is_in(ids)).first()
        if sent is not None:
            case = await Case.objects().where(Case.id == sent["case"]).first()
            if case is not None:
                return Attribution(case=case, party=sent["party"])
    return Attribution(reason="unattributable")


async def known_addresses(case: Case, party: str) -> set[str]:
    """Every address the party is known by on this case: links, mails we sent, its master data, assigned mail."""
    found: set[str] = set()
    links = await AccessLink.select(AccessLink.email).where((AccessLink.case == case.id) & (AccessLink.party == party))
    found.update(row["email"] for row in links)
    sent = await SentMail.select(SentMail.recipient).where((SentMail.case == case.id) & (SentMail.party == party))
    found.update(row["recipient"] for row in sent)
    # A sender staff once assigned to this party's thread is known from then on.
    posted = await InboundMail.select(InboundMail.sender).where(
        (InboundMail.case == case.id) & (InboundMail.party == party) & (InboundMail.status == POSTED)
    )
    found.update(row["sender"] for row in posted)
    master: dict[str, Any] = {"supplier": (Supplier, case.supplier), "carrier": (Carrier, case.carrier),
                              "customer": (Customer, case.customer)}  # fmt: skip
    table, row_id = master.get(party, (None, None))
    if table is not None and row_id:
        row = await table.select(table.email).where(table.id == row_id).first()
        if row:
            found.add(row["email"])
    return {address.strip().lower() for address in found if address and "@" in address}


def sender_verdict(parsed: InboundMessage, settings: Settings) -> tuple[str, bool]:
    """The receiving server's verdicts as text ("spf=pass dkim=fail dmarc=fail") and whether the sender failed.

    Only the header of our own server counts: the one named CROSSCLAIM_MAIL_AUTHSERV_ID, else the topmost
    (a receiving server adds its header on top; those below came with the mail and anyone can write them).
    Failed: DMARC says fail, or, without a DMARC verdict, SPF or DKIM does.
    """
    wanted = settings.mail_authserv_id.strip().lower()
    headers = parsed.authentication
    if wanted:
        chosen = next((results for server, results in headers if server == wanted), None)
    else:
        chosen = headers[0][1] if headers else None
    if not chosen:
        return "", False
    summary = " ".join(f"{method}={chosen[method]}" for method in ("spf", "dkim", "dmarc") if method in chosen)
    if "dmarc" in chosen:
        return summary, chosen["dmarc"] == "fail"
    return summary, "fail" in (chosen.get("spf"), chosen.get("dkim"))


async def ingest_mail(
    raw: bytes, *, settings: Settings, store: EvidenceStore, policy: EvidencePolicy, now: datetime | None = None
) -> Ingested:
    """Store the raw mail first (content-addressed), then act on it once; a mail already read is a duplicate."""
    now = now or datetime.now(UTC)
    raw_key = await anyio.to_thread.run_sync(store.put, raw)
    raw_sha256 = raw_key.rsplit("/", 1)[-1]
    parsed = await anyio.to_thread.run_sync(parse_mail, raw)
    key = mail_key(parsed, raw_sha256)
    if await InboundMail.exists().where(InboundMail.message_id == key):
        return Ingested(DUPLICATE)
    row = InboundMail(
        message_id=key,
        raw_key=raw_key,
        raw_sha256=raw_sha256,
        size=len(raw),
        sender=parsed.sender[:254],
        subject=parsed.subject[:300],
        received_at=now,
        text=parsed.reply or parsed.text,
        authentication=sender_verdict(parsed, settings)[0],
    )
    try:
        return await _act(row, parsed, settings=settings, store=store, policy=policy, now=now)
    except Exception:
        # A concurrent read of the same mail committed first (unique Message-ID): that one counts.
        if await InboundMail.exists().where(InboundMail.message_id == key):
            return Ingested(DUPLICATE)
        raise


async def _act(
    row: InboundMail,
    parsed: InboundMessage,
    *,
    settings: Settings,
    store: EvidenceStore,
    policy: EvidencePolicy,
    now: datetime,
) -> Ingested:
    attribution = await attribute(parsed, settings)
    if parsed.automatic:
        return await _record_automatic(row, parsed, attribution, now=now)
    if attribution.case is None:
        reason = "malformed" if not parsed.sender and parsed.problems else attribution.reason
        return await _quarantine(row, reason)
    if parsed.sender not in await known_addresses(attribution.case, attribution.party):
        row.case, row.party = attribution.case.id, attribution.party
        return await _quarantine(row, "unknown_sender", case=attribution.case)
    verdicts, failed = sender_verdict(parsed, settings)
    if failed:
        # A known address and a valid tag, but the sending domain's own checks say it was not sent by it.
        log.warning("mail sender not verified", extra={"sender": row.sender, "authentication": verdicts})
        if settings.mail_quarantine_unverified:
            row.case, row.party = attribution.case.id, attribution.party
            return await _quarantine(row, "sender_not_verified", case=attribution.case)
    return await post_mail(
        row,
        parsed,
        case=attribution.case,
        party=attribution.party,
        store=store,
        policy=policy,
        now=now,
        sender_check=verdicts if failed else "",
    )


async def _insert(row: InboundMail) -> bool:
    """Insert inside the caller's transaction; False when a concurrent read of the same mail got there first."""
    if await InboundMail.exists().where(InboundMail.message_id == row.message_id):
        return False
    await row.save()
    return True


async def _quarantine(row: InboundMail, reason: str, *, case: Case | None = None) -> Ingested:
    row.status, row.reason = QUARANTINED, reason
    async with atomic():
        if not await _insert(row):
            return Ingested(DUPLICATE)
        if case is not None:
            await record_event(
                case_id=case.id,
                actor=Actor.system(),
                kind="mail_quarantined",
                data={"inbound_id": row.id, "sender": row.sender, "reason": reason, "party": row.party},
                at=row.received_at,
            )
    log.info("mail quarantined", extra={"inbound_id": row.id, "reason": reason})
    return Ingested(QUARANTINED, row.id, case.number if case else "", reason)


async def _record_automatic(
    row: InboundMail, parsed: InboundMessage, attribution: Attribution, *, now: datetime
) -> Ingested:
    """Auto-replies and bounces never become messages (no loops): they are events; a bounce marks the address."""
    case = attribution.case
    row.status = BOUNCE if parsed.automatic == "bounce" else AUTO_REPLY
    row.case, row.party = (case.id if case else None), attribution.party
    addresses = parsed.bounced or ([parsed.sender] if row.status == AUTO_REPLY else [])
    ignored: list[str] = []
    if row.status == BOUNCE:
        # Anyone can write a delivery report naming any address: only an address we sent this case's mail
        # for this party to can have bounced it, so only those are marked failing.
        sent_to = await _recipients(case, attribution.party) if case is not None else set()
        ignored = [address for address in addresses if address.strip().lower() not in sent_to]
        addresses = [address for address in addresses if address.strip().lower() in sent_to]
    async with atomic():
        if not await _insert(row):
            return Ingested(DUPLICATE)
        if case is not None:
            reason = (
                _("Mail to %(addresses)s could not be delivered.", addresses=", ".join(addresses) or "?")
                if row.status == BOUNCE
                else _("Automatic reply: %(subject)s", subject=row.subject)
            )
            await record_event(
                case_id=case.id,
                actor=Actor.system(),
                kind="mail_bounced" if row.status == BOUNCE else "mail_auto_reply",
                data={
                    "inbound_id": row.id,
                    "sender": row.sender,
                    "addresses": addresses,
                    **({"ignored": ignored[:20]} if ignored else {}),
                    "reason": reason[:500],
                },
                at=now,
            )
        if row.status == BOUNCE:
            for address in addresses:
                await _mark_failing(address, case=case, party=attribution.party, reason=row.subject, now=now)
    return Ingested(row.status, row.id, case.number if case else "")


async def _recipients(case: Case, party: str) -> set[str]:
    rows = await SentMail.select(SentMail.recipient).where((SentMail.case == case.id) & (SentMail.party == party))
    return {row["recipient"].strip().lower() for row in rows if row["recipient"]}


async def _mark_failing(address: str, *, case: Case | None, party: str, reason: str, now: datetime) -> None:
    existing = await FailingAddress.objects().where(FailingAddress.address == address[:254]).first()
    if existing is None:
        await FailingAddress(
            address=address[:254], case=case.id if case else None, party=party, reason=reason, failed_at=now
        ).save()
        return
    await FailingAddress.update(
        {
            FailingAddress.bounces: existing.bounces + 1,
            FailingAddress.failed_at: now,
            FailingAddress.reason: reason,
            FailingAddress.case: case.id if case else existing.case,
            FailingAddress.party: party or existing.party,
        }
    ).where(FailingAddress.id == existing.id)


async def post_mail(
    row: InboundMail,
    parsed: InboundMessage,
    *,
    case: Case,
    party: str,
    store: EvidenceStore,
    policy: EvidencePolicy,
    now: datetime,
    decided_by: Actor | None = None,
    sender_check: str = "",
) -> Ingested:
    """The reply as a message in the party's thread; its files through the evidence pipeline, refusals recorded.

    ``sender_check`` holds the failed SPF/DKIM/DMARC verdicts of a mail posted anyway: shown as a warning.
    """
    actor = Actor(kind=party, id="", label=(parsed.sender or party)[:200])
    uploads = [Upload(data=f.data, filename=f.filename, declared_type=f.media_type) for f in parsed.files]
    prepared = await prepare_uploads(
        uploads[: policy.max_files], store=store, policy=policy, uploader=uploader_id(actor)
    )
    closed = case.node in {node.value for node in states.FINAL}
    body = parsed.reply or parsed.text
    async with atomic():
        if decided_by is None:
            if not await _insert(row):
                return Ingested(DUPLICATE)
        elif not await _claim(row.id, POSTED):
            raise Conflict(_("This mail was already dealt with."))
        attached = await evidence_attach(actor=actor, case_id=case.id, prepared=prepared, party=party, now=now)
        message = Message(
            case=case.id,
            party=party,
            author_kind=party,
            author_label=actor.label,
            body=body,
            via="email",
            internal=False,
            external_id=row.message_id,
            created_at=now,
            sender_check=sender_check[:200],
        )
        await message.save()
        data: dict[str, Any] = {
            "message_id": message.id,
            "party": party,
            "length": len(body),
            "evidence_ids": [item.evidence.id for item in attached],
            "via": "email",
            "inbound_id": row.id,
            **({"sender_not_verified": sender_check} if sender_check else {}),
        }
        if party == "customer":
            # Customers have no thread on the case page: their words are shown on the timeline.
            data["reason"] = body[:1000]
        await record_event(case_id=case.id, actor=actor, kind="message", data=data, at=now)
        changes: dict[Any, Any] = {
            InboundMail.status: POSTED,
            InboundMail.case: case.id,
            InboundMail.party: party,
            InboundMail.message: message.id,
        }
        if decided_by is not None:
            changes[InboundMail.decided_by] = int(decided_by.id) if decided_by.id.isdigit() else None
            changes[InboundMail.decided_at] = now
        await InboundMail.update(changes).where(InboundMail.id == row.id)
        if closed:
            await record_event(
                case_id=case.id,
                actor=Actor.system(),
                kind="mail_after_close",
                data={"inbound_id": row.id, "message_id": message.id, "reason": _("A mail arrived on a closed case.")},
                at=now,
            )
            if case.assignee:
                text = _(
                    "A mail from %(sender)s arrived on closed case %(number)s.", sender=actor.label, number=case.number
                )
                await notify_users([(int(case.assignee), case.id, text)], now=now)
        # Mail from the address shows it works again.
        await FailingAddress.delete().where(FailingAddress.address == parsed.sender)
        await Case.update({Case.updated_at: now}).where(Case.id == case.id)
    return Ingested(POSTED, row.id, case.number)


async def quarantine_assign(
    *,
    actor: Actor,
    inbound_id: int,
    number: str,
    party: str,
    settings: Settings,
    store: EvidenceStore,
    policy: EvidencePolicy,
    now: datetime | None = None,
) -> Ingested:
    """Staff put a quarantined mail into a case thread: it is read again from the kept original."""
    now = now or datetime.now(UTC)
    row = await _quarantined(inbound_id)
    if party not in MAIL_PARTIES:
        raise ValidationFailed(
            _("Choose the supplier, the carrier or the customer."), fields=[("party", _("Choose one."))]
        )
    case = await Case.objects().where(Case.number == number.strip().upper()).first()
    if case is None:
        raise ValidationFailed(
            _("There is no case %(number)s.", number=number.strip()), fields=[("number", _("Enter a case number."))]
        )
    raw = await anyio.to_thread.run_sync(store.get, row.raw_key)
    parsed = await anyio.to_thread.run_sync(parse_mail, raw)
    verdicts, failed = sender_verdict(parsed, settings)
    result = await post_mail(
        row,
        parsed,
        case=case,
        party=party,
        store=store,
        policy=policy,
        now=now,
        decided_by=actor,
        sender_check=verdicts if failed else "",
    )
    async with atomic():
        await record_event(
            case_id=case.id,
            actor=actor,
            kind="mail_assigned",
            data={"inbound_id": row.id, "sender": row.sender, "party": party, "was": row.reason},
            at=now,
        )
    return result


async def quarantine_reject(*, actor: Actor, inbound_id: int, now: datetime | None = None) -> InboundMail:
    """Staff refuse a quarantined mail: it stays on record (and its original in the store), marked rejected."""
    now = now or datetime.now(UTC)
    row = await _quarantined(inbound_id)
    async with atomic():
        if not await _claim(row.id, REJECTED):
            raise Conflict(_("This mail was already dealt with."))
        await InboundMail.update(
            {
                InboundMail.decided_by: int(actor.id) if actor.id.isdigit() else None,
                InboundMail.decided_at: now,
            }
        ).where(InboundMail.id == row.id)
    row.status = REJECTED
    return row


async def _claim(inbound_id: int, status: str) -> bool:
    """Move a quarantined mail to ``status`` unless someone already dealt with it (inside the caller's
    transaction): a second click, or a colleague at the same moment, finds it taken and gets a Conflict."""
    taken = (
        await InboundMail.update({InboundMail.status: status})
        .where((InboundMail.id == inbound_id) & (InboundMail.status == QUARANTINED))
        .returning(InboundMail.id)
    )
    return bool(taken)


async def _quarantined(inbound_id: int) -> InboundMail:
    row = await InboundMail.objects().where(InboundMail.id == inbound_id).first()
    if row is None:
        raise NotFound(_("There is no such mail."))
    if row.status != QUARANTINED:
        raise Conflict(_("This mail was already dealt with."))
    return row
