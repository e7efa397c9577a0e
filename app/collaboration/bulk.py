"""Sending many cases at once from the grid: each ticked case goes to its own supplier, on its own link."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from app.cases import states
from app.cases.events import Actor
from app.cases.tables import Case
from app.cases.taxonomy import REMEDIES
from app.collaboration import services
from app.errors import Conflict, ValidationFailed
from app.i18n import gettext as _
from app.playbooks import lookup as playbook_lookup
from app.playbooks import selectors as playbook_selectors

# One request sends at most this many: each push writes a link and events and sends a mail.
MAX_BULK_PUSH = 100


@dataclass
class BulkPush:
    sent: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (case number, why)


async def playbook_rules_broken(case_id: int, now: datetime) -> list[str]:
    """The supplier's playbook rules this case breaks, in the reader's words (none without a playbook)."""
    case = await Case.objects().where(Case.id == case_id).first()
    if case is None:
        return []
    ready = await playbook_selectors.case_readiness(case, "supplier", today=now.date())
    return [playbook_selectors.gap_text(gap) for gap in ready.blocking]


async def push_to_suppliers(
    *,
    actor: Actor,
    case_ids: list[int],
    requirement: str,
    reply_by: date | None,
    note: str,
    deliver: Callable[[services.Pushed, date], Awaitable[None]],
    attach_pack: bool = False,
    now: datetime | None = None,
) -> BulkPush:
    """Push each chosen case to the supplier on record, at the address its playbook names for the case (else the
    one on record), in the supplier's language.

    A case that cannot go (closed, no supplier, no address, a rule of the supplier's playbook broken) is skipped
    with the reason and the others still go; what was asked is checked once, before anything is sent.
    """
    now = now or datetime.now(UTC)
    problems: list[tuple[str, str]] = []
    if not case_ids:
        problems.append(("case", _("Tick the cases to send.")))
    if len(case_ids) > MAX_BULK_PUSH:
        problems.append(("case", _("Send at most %(count)s cases at once.", count=MAX_BULK_PUSH)))
    if requirement not in REMEDIES:
        problems.append(("requirement", _("Choose what we ask for.")))
    if reply_by is None:
        problems.append(("reply_by", _("Choose the date by which they should reply.")))
    elif reply_by < now.date():
        problems.append(("reply_by", _("The reply deadline cannot be in the past.")))
    if problems or reply_by is None:
        raise ValidationFailed(_("The cases cannot be sent as filled in."), fields=problems)
    rows = await Case.select(
        Case.id,
        Case.number,
        Case.node,
        Case.supplier.id.as_alias("supplier_id"),
        Case.supplier.email.as_alias("supplier_email"),
        Case.supplier.language.as_alias("supplier_language"),
    ).where(Case.id.is_in(case_ids))
    result = BulkPush()
    final = {node.value for node in states.FINAL}
    for row in sorted(rows, key=lambda row: row["number"]):
        number = row["number"]
        if row["node"] in final:
            result.skipped.append((number, _("the case is closed")))
            continue
        if not row["supplier_id"]:
            result.skipped.append((number, _("no supplier on the case")))
            continue
        contact = await playbook_lookup.push_contact(row["id"], "supplier")
        email = contact.email if contact else row["supplier_email"]
        if not email:
            result.skipped.append((number, _("no email address on record for the supplier")))
            continue
        broken = await playbook_rules_broken(row["id"], now)
        if broken:
            # One at a time a handler may send against the playbook with a reason; in bulk it waits.
            result.skipped.append((number, _("its supplier's playbook: %(rules)s", rules="; ".join(broken))))
            continue
        try:
            pushed = await services.case_push(
                actor=actor,
                number=number,
                party="supplier",
                email=email,
                language=(contact.language if contact else "") or row["supplier_language"] or "en",
                requirement=requirement,
                reply_by=reply_by,
                note=note,
                attach_pack=attach_pack,
                now=now,
            )
        except (ValidationFailed, Conflict) as refusal:
            result.skipped.append((number, refusal.message))
            continue
        await deliver(pushed, reply_by)
        result.sent.append(number)
    return result
