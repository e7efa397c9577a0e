"""Writes for collaboration: pushing a case to a party, their answers, plan rounds, messages and disputes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from app.cases import states
from app.cases.events import Actor, lock_case, record_event
from app.cases.responsibility import json_object
from app.cases.services import case_move
from app.cases.tables import Case, CaseEvent, Message
from app.cases.taxonomy import REMEDIES
from app.collaboration import links, visibility
from app.collaboration.pushes import push_state
from app.collaboration.tables import AccessLink, Dispute, PlanProposal
from app.db import atomic
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.evidence.services import PreparedUpload, evidence_attach
from app.i18n import LANGUAGES, label, valid_time_zone
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.logs import security_event
from app.rules.facts import N_
from app.tracking import services as tracking
from app.trade.tables import Carrier, Supplier

COUNTERPARTIES = ("supplier", "carrier")
RESPONSES = ("accept", "accept_part", "dispute")
PROGRESS: dict[str, str] = {
    "shipped": _l("Replacement shipped"),
    "refund_sent": _l("Refund sent"),
    "credit_note_issued": _l("Credit note issued"),
    "repaired": _l("Repaired"),
    "other": _l("Other"),
}
DECISIONS = ("supplier", "carrier", "purchaser", "shared")
MAX_TEXT = 4000
# A view is recorded at most this often per link, so polling and reloads do not flood the timeline.
VIEW_EVERY = timedelta(minutes=10)


@dataclass(frozen=True)
class Pushed:
    case: Case
    link: AccessLink
    token: str  # shown once, in the mail; only its SHA-256 is stored
    note: str = ""  # what the handler wrote to them, repeated in the mail


def actor_of(access: links.PartyAccess) -> Actor:
    return Actor(kind=access.party, id=str(access.link_id), label=access.email or access.party)


async def refuse_party(*, actor: Actor, case_id: int, action: str, target: int) -> NotFound:
    """A party tried to act on something not addressed to it: recorded for staff, answered as if it did not exist.

    The event is on the staff timeline only (it is not a party event); the caller raises the returned 404.
    """
    security_event("party_action_refused", party=actor.kind, link_id=actor.id, case_id=case_id, action=action)
    async with atomic():
        await record_event(
            case_id=case_id,
            actor=actor,
            kind="party_action_refused",
            data={"party": actor.kind, "action": action, "target": target},
        )
    return NotFound(_("There is nothing at this address."))


async def _case(number: str) -> Case:
    case = await Case.objects().where(Case.number == number).first()
    if case is None:
        raise NotFound(_("There is no case %(number)s.", number=number))
    return case


async def _case_by_id(case_id: int) -> Case:
    case = await Case.objects().where(Case.id == case_id).first()
    if case is None:
        raise NotFound(_("There is no such case."))
    return case


def _text(value: str, field: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    value = value.strip()
    if required and not value:
        raise ValidationFailed(_("Please fill in %(field)s.", field=field), fields=[(field, _("This is needed."))])
    if len(value) > limit:
        hint = _("Keep it under %(count)s characters.", count=limit)
        raise ValidationFailed(_("The text is too long."), fields=[(field, hint)])
    return value


def _touch_counterparty(case: Case) -> None:
    if case.node in {node.value for node in states.FINAL}:
        raise Conflict(_("The case is %(node)s; nothing more can be agreed on it.", node=case.node))


async def case_push(
    *,
    actor: Actor,
    number: str,
    party: str,
    email: str,
    language: str,
    requirement: str,
    reply_by: date,
    note: str = "",
    basis: list[str] | None = None,
    basis_note: str = "",
    attach_pack: bool = False,
    now: datetime | None = None,
) -> Pushed:
    """Send a case to its supplier or carrier: a new link (older ones revoked) and what we ask of them.

    ``basis`` are the hint's citations the handler chose to cite and ``basis_note`` any other basis in their
    words: that is all of our reasoning the party sees (never the hint itself, its confidence or deadlines).
    """
    now = now or datetime.now(UTC)
    problems: list[tuple[str, str]] = []
    if party not in COUNTERPARTIES:
        problems.append(("party", _("Choose the supplier or the carrier.")))
    if requirement not in REMEDIES:
        problems.append(("requirement", _("Choose what we ask for.")))
    if "@" not in email or len(email) > 254 or any(c in email for c in " \r\n,;<>"):
        problems.append(("email", _("Enter one email address.")))
    if reply_by < now.date():
        problems.append(("reply_by", _("The reply deadline cannot be in the past.")))
    if problems:
        raise ValidationFailed(_("The case cannot be sent as filled in."), fields=problems)
    note = _text(note, "note")
    basis_note = _text(basis_note, "basis_note")
    language = language if language in LANGUAGES else "en"
    case = await _case(number)
    _touch_counterparty(case)
    owner = visibility.owner_elsewhere(await visibility.case_contacts(case.id), party, email)
    if owner is not None:
        # A supplier's magic link and claim pack never go to its carrier, nor to the customer.
        wrong = _(
            "%(email)s is the address of the %(kind)s %(name)s on this case, not of the %(party)s.",
            email=email,
            kind=label(owner.kind, "party").lower(),
            name=owner.name,
            party=label(party, "party").lower(),
        )
        raise ValidationFailed(_("The case cannot be sent as filled in."), fields=[("email", wrong)])
    citable = [str(citation) for citation in json_object(case.hint).get("basis", [])]
    cited = [citation for citation in citable if citation in (basis or [])]
    if len(set(basis or [])) != len(cited):
        hint = _("Cite from the basis the hint lists, or write it under other basis.")
        raise ValidationFailed(_("The case cannot be sent as filled in."), fields=[("basis", hint)])
    async with atomic():
        await links.revoke_links(case_id=case.id, party=party, now=now)
        link, token = await links.issue_link(case_id=case.id, party=party, email=email, language=language, now=now)
        await tracking.clock_to_party(case_id=case.id, party=party)
        await record_event(
            case_id=case.id,
            actor=actor,
            kind="case_pushed",
            data={
                "party": party,
                "email": email,
                "requirement": requirement,
                "reply_by": reply_by.isoformat(),
                "note": note,
                "basis": cited,
                "basis_note": basis_note,
                "attach_pack": attach_pack,
                "link_id": link.id,
            },
            at=now,
        )
    if case.node == states.Node.REPORTED.value:
        case = await case_move(actor=actor, number=number, target="responsibility", now=now)
    return Pushed(case=case, link=link, token=token, note=note)


async def push_retry(*, actor: Actor, number: str, now: datetime | None = None) -> tuple[Pushed, dict[str, Any]]:
    """Send a push whose mail failed again: its link is revoked (the failed mail may yet arrive) and a fresh
    one issued to the same address; answers the new push and what was asked of the party (for the mail)."""
    now = now or datetime.now(UTC)
    case = await _case(number)
    async with atomic():
        await lock_case(case.id)
        state = await push_state(case.id)
        if state is None or state.status != "failed":
            raise Conflict(_("Only a push whose mail failed can be sent again."))
        old = await AccessLink.objects().where(AccessLink.id == state.link_id).first()
        if old is None:
            raise Conflict(_("Only a push whose mail failed can be sent again."))
        await links.revoke_links(case_id=case.id, party=old.party, link_id=old.id, now=now)
        link, token = await links.issue_link(
            case_id=case.id, party=old.party, email=old.email, language=old.language, now=now
        )
        await record_event(
            case_id=case.id,
            actor=actor,
            kind="push_mail_retried",
            data={"link_id": link.id, "previous_link_id": old.id, "party": old.party},
            at=now,
        )
    return Pushed(case=case, link=link, token=token, note=str(state.push.get("note", ""))), state.push


async def mail_result(*, case_id: int, link_id: int, error: str, now: datetime | None = None) -> None:
    """Whether the push mail went out: recorded either way, so the handler sees a failed send."""
    kind = "push_mail_failed" if error else "push_mail_sent"
    async with atomic():
        await record_event(
            case_id=case_id, actor=Actor.system(), kind=kind, data={"link_id": link_id, "error": error[:500]}, at=now
        )


async def party_opened(*, access: links.PartyAccess, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    async with atomic():
        await AccessLink.update({AccessLink.last_used_at: now}).where(AccessLink.id == access.link_id)
        await record_event(
            case_id=access.case_id, actor=actor_of(access), kind="party_link_opened", data={"link_id": access.link_id}
        )


async def party_viewed(*, access: links.PartyAccess, now: datetime | None = None) -> None:
    """Every view is on the timeline, but a reload within minutes is the same view."""
    now = now or datetime.now(UTC)
    recent = await CaseEvent.count().where(
        (CaseEvent.case == access.case_id)
        & (CaseEvent.kind == "party_viewed")
        & (CaseEvent.actor_id == str(access.link_id))
        & (CaseEvent.at > now - VIEW_EVERY)
    )
    if recent:
        return
    async with atomic():
        await record_event(case_id=access.case_id, actor=actor_of(access), kind="party_viewed", data={}, at=now)


def response_data(*, party: str, response: str, share: str = "", reason: str = "") -> dict[str, Any]:
    """A party's answer checked before anything is stored (files included): what the event will record."""
    if response not in RESPONSES:
        raise ValidationFailed(_("Choose an answer."), fields=[("response", _("Accept, accept in part or dispute."))])
    data: dict[str, Any] = {"party": party, "response": response}
    if response == "accept_part":
        try:
            percent = int(share)
        except ValueError:
            percent = 0
        if not 1 <= percent <= 99:
            raise ValidationFailed(_("Enter the share you accept."), fields=[("share", _("A percentage, 1 to 99."))])
        data["share"] = percent
    if response == "dispute":
        data["reason"] = _text(reason, "reason", required=True)
    elif reason.strip():
        data["reason"] = _text(reason, "reason")
    return data


async def party_respond(
    *,
    access: links.PartyAccess,
    response: str,
    share: str = "",
    reason: str = "",
    files: Sequence[PreparedUpload] = (),
    answer_round: bool = False,
    now: datetime | None = None,
) -> Dispute | None:
    """The party's answer on responsibility: accept, accept a share, or dispute with reasons and files.

    A dispute opens mediation with the same reason and files in the same transaction (the one dispute
    action), unless the company has us answer first (``answer_round``): then a handler opens mediation
    from the case page when our answer does not settle it. Returns the mediation opened, if any.
    """
    now = now or datetime.now(UTC)
    data = response_data(party=access.party, response=response, share=share, reason=reason)
    case = await _case_by_id(access.case_id)
    _touch_counterparty(case)
    if case.node not in {states.Node.RESPONSIBILITY.value, states.Node.PLAN.value}:
        raise Conflict(_("Responsibility is answered while it or the plan is open."))
    mediate = response == "dispute" and not answer_round
    if mediate:
        await appeal_check(case.id, access.party, has_evidence=any(item.accepted for item in files))
    async with atomic():
        attached = await evidence_attach(
            actor=actor_of(access), case_id=case.id, prepared=files, party=access.party, now=now
        )
        evidence_ids = [item.evidence.id for item in attached]
        if response == "dispute":
            data["evidence_ids"] = evidence_ids
        await record_event(case_id=case.id, actor=actor_of(access), kind="party_response", data=data, at=now)
        if not mediate:
            return None
        return await dispute_open(
            actor=actor_of(access),
            case_id=case.id,
            opened_by=access.party,
            reason=data["reason"],
            evidence_ids=evidence_ids,
            now=now,
        )


def parse_date(raw: str, field: str) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(_("Enter the date as YYYY-MM-DD."), fields=[(field, _("e.g. 2026-12-31"))]) from None


def parse_amount(raw: str) -> Decimal | None:
    raw = raw.strip().replace(",", ".")
    if not raw:
        return None
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise ValidationFailed(_("Enter the amount as a number."), fields=[("amount", _("e.g. 1250.00"))]) from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise ValidationFailed(_("Enter the amount as a number."), fields=[("amount", _("e.g. 1250.00"))])
    return amount.quantize(Decimal("0.01"))


def plan_checked(*, party: str, remedy: str, currency: str, ready_by: date | None, today: date) -> str:
    """A round's terms checked before anything is stored (a party's answer sent with it included): the
    currency as stored, or a ValidationFailed naming each field. A remedy is always chosen, never assumed."""
    problems: list[tuple[str, str]] = []
    if party not in COUNTERPARTIES:
        problems.append(("party", _("Choose the supplier or the carrier.")))
    if remedy not in REMEDIES:
        problems.append(("remedy", _("Choose a remedy.")))
    currency = currency.strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        problems.append(("currency", _("Use a three-letter currency code such as CNY or EUR.")))
    if ready_by is not None and ready_by < today:
        problems.append(("ready_by", _("The date cannot be in the past.")))
    if problems:
        raise ValidationFailed(_("The proposal is incomplete."), fields=problems)
    return currency


async def plan_propose(
    *,
    actor: Actor,
    case_id: int,
    side: str,
    party: str,
    remedy: str,
    amount: Decimal | None,
    currency: str,
    ready_by: date | None,
    details: str,
    now: datetime | None = None,
) -> PlanProposal:
    """A new round between us and ``party``: the open round with that party (if any) is superseded by this one.

    ``side`` is who proposes: "us" (to ``party``) or the party itself (then ``party`` is the same party).
    """
    now = now or datetime.now(UTC)
    if side != visibility.US:
        party = side
    currency = plan_checked(party=party, remedy=remedy, currency=currency, ready_by=ready_by, today=now.date())
    details = _text(details, "details")
    case = await _case_by_id(case_id)
    _touch_counterparty(case)
    if case.node not in {states.Node.RESPONSIBILITY.value, states.Node.PLAN.value}:
        raise Conflict(_("Plans are proposed while responsibility or the plan is open."))
    async with atomic():
        last = (
            await PlanProposal.select(PlanProposal.round)
            .where(PlanProposal.case == case_id)
            .order_by(PlanProposal.round, ascending=False)
            .first()
        )
        await PlanProposal.update({PlanProposal.status: "superseded"}).where(
            (PlanProposal.case == case_id) & (PlanProposal.status == "open") & (PlanProposal.party == party)
        )
        proposal = PlanProposal(
            case=case_id,
            round=(last["round"] + 1) if last else 1,
            proposed_by=side,
            party=party,
            remedy=remedy,
            amount=amount,
            currency=currency,
            details=details,
            status="open",
            created_at=now,
        )
        await proposal.save()
        await record_event(
            case_id=case_id,
            actor=actor,
            kind="plan_proposed",
            data={
                "proposal_id": proposal.id,
                "round": proposal.round,
                "side": side,
                "party": party,
                "remedy": remedy,
                "amount": str(amount) if amount is not None else None,
                "currency": currency,
                "ready_by": ready_by.isoformat() if ready_by else None,
                "details": details,
            },
            at=now,
        )
        if side == visibility.US:
            await links.renew_links(case_id=case_id, party=party, now=now)
    return proposal


def payer_for(case: Case, side: str, payer: str) -> str:
    """Who pays for a plan accepted while responsibility is not settled: our explicit choice, never silence.

    Settled (a confirmed party): nothing to choose (""). A party accepting the round we addressed to it takes
    it on itself; we choose among the parties and "shared", or the accept is refused with the reason.
    """
    if case.confirmed_party:
        return ""
    if side != visibility.US:
        return side
    if payer not in DECISIONS:
        raise ValidationFailed(
            _("Responsibility is not settled yet: choose who pays for this plan."),
            fields=[("payer", _("Choose the supplier, the carrier, us or shared."))],
        )
    return payer


async def plan_accept(
    *, actor: Actor, case_id: int, proposal_id: int, side: str, payer: str = "", now: datetime | None = None
) -> PlanProposal:
    """The other side accepts the open proposal: the plan is agreed and waits for the customer's confirmation.

    A party may accept only a round we proposed to it; anything else is unknown to it (404, recorded for staff).
    While responsibility is undetermined the accept records who pays (``payer_for``).
    """
    now = now or datetime.now(UTC)
    proposal = (
        await PlanProposal.objects().where((PlanProposal.id == proposal_id) & (PlanProposal.case == case_id)).first()
    )
    if side != visibility.US and (proposal is None or not visibility.proposal_acceptable(proposal, side)):
        raise await refuse_party(actor=actor, case_id=case_id, action="plan_accept", target=proposal_id)
    if proposal is None:
        raise NotFound(_("There is no such proposal."))
    if not visibility.proposal_acceptable(proposal, side):
        raise PermissionDenied(_("The other side accepts a proposal, not the side that made it."))
    async with atomic():
        # Checked again under the case's lock: two accepts at once (or an accept beside a new round) agree once.
        await lock_case(case_id)
        status = await PlanProposal.select(PlanProposal.status).where(PlanProposal.id == proposal.id).first()
        if status is None or status["status"] != "open":
            raise Conflict(_("This proposal is no longer open; answer the latest round."))
        case = await _case_by_id(case_id)
        if case.node not in {states.Node.RESPONSIBILITY.value, states.Node.PLAN.value}:
            raise Conflict(_("Plans are agreed while responsibility or the plan is open."))
        chosen = payer_for(case, side, payer)
        await PlanProposal.update({PlanProposal.status: "accepted"}).where(
            (PlanProposal.id == proposal.id) & (PlanProposal.status == "open")
        )
        changes: dict[Any, Any] = {Case.remedy: proposal.remedy, Case.currency: proposal.currency, Case.updated_at: now}
        if proposal.amount is not None:
            changes[Case.claim_amount] = proposal.amount
        await Case.update(changes).where(Case.id == case_id)
        await record_event(
            case_id=case_id,
            actor=actor,
            kind="plan_agreed",
            data={
                "proposal_id": proposal.id,
                "round": proposal.round,
                "remedy": proposal.remedy,
                "amount": str(proposal.amount) if proposal.amount is not None else None,
                "currency": proposal.currency,
                "party": proposal.party,
                "awaiting": "customer" if await _has_customer(case) else None,
                **({"payer": chosen} if chosen else {}),
            },
            at=now,
        )
        if case.node == states.Node.RESPONSIBILITY.value:
            await case_move(actor=actor, number=case.number, target="plan", reason=N_("Plan agreed"), now=now)
        if not await _has_customer(case):
            # No customer on the case: nobody is left to confirm, the plan is carried out.
            await case_move(
                actor=actor,
                number=case.number,
                target="implementation",
                reason=N_("Plan agreed; the case has no customer to confirm it"),
                now=now,
            )
    proposal.status = "accepted"
    return proposal


async def _has_customer(case: Case) -> bool:
    """A customer on the case (its record, or a tracking link sent to them) confirms the agreed plan."""
    return bool(case.customer) or await _tracked_by_customer(case.id)


async def _tracked_by_customer(case_id: int) -> bool:
    return bool(await AccessLink.exists().where((AccessLink.case == case_id) & (AccessLink.party == "customer")))


async def customer_answer(
    *, actor: Actor, number: str, accepted: bool, comment: str = "", now: datetime | None = None
) -> Case:
    """The customer's answer as the handler heard it: only for a case whose customer has no tracking link."""
    case = await _case(number)
    if await _tracked_by_customer(case.id):
        raise Conflict(_("This customer answers on their tracking page."))
    return await plan_answer(actor=actor, case_id=case.id, accepted=accepted, comment=comment, now=now)


async def plan_answer(
    *, actor: Actor, case_id: int, accepted: bool, comment: str = "", now: datetime | None = None
) -> Case:
    """The customer's answer to the agreed plan, in one transaction.

    A confirmation moves the case to implementation; a decline (with its reason) reopens the plan round:
    the agreed proposal is marked declined and the case stays in plan for a new round.
    """
    now = now or datetime.now(UTC)
    comment = _text(comment, "comment", required=not accepted)
    case = await _case_by_id(case_id)
    agreed = (
        await PlanProposal.objects()
        .where((PlanProposal.case == case.id) & (PlanProposal.status == "accepted"))
        .order_by(PlanProposal.round, ascending=False)
        .first()
    )
    if agreed is None or case.node != states.Node.PLAN.value:
        raise Conflict(_("There is no agreed plan waiting for the customer."))
    async with atomic():
        await record_event(
            case_id=case.id,
            actor=actor,
            kind="customer_plan_answer",
            data={"proposal_id": agreed.id, "accepted": accepted, "comment": comment},
            at=now,
        )
        if accepted:
            return await case_move(
                actor=actor,
                number=case.number,
                target="implementation",
                reason=N_("Plan confirmed by the customer"),
                now=now,
            )
        await PlanProposal.update({PlanProposal.status: "declined"}).where(PlanProposal.id == agreed.id)
    return case


async def _agreed_with(case_id: int, party: str) -> bool:
    """Whether the latest agreed plan of the case is between us and ``party``."""
    agreed = (
        await PlanProposal.select(PlanProposal.party)
        .where((PlanProposal.case == case_id) & (PlanProposal.status == "accepted"))
        .order_by(PlanProposal.round, ascending=False)
        .first()
    )
    return agreed is not None and agreed["party"] == party


async def progress_update(
    *, actor: Actor, case_id: int, step: str, tracking_no: str = "", note: str = "", now: datetime | None = None
) -> None:
    """What happened during implementation: shipped (with a tracking number), refund sent, …"""
    now = now or datetime.now(UTC)
    if step not in PROGRESS:
        raise ValidationFailed(_("Choose what happened."), fields=[("step", _("Choose a step."))])
    tracking_no = _text(tracking_no, "tracking_no", required=step == "shipped", limit=80)
    note = _text(note, "note")
    case = await _case_by_id(case_id)
    if case.node != states.Node.IMPLEMENTATION.value:
        raise Conflict(_("Progress is reported while the plan is being carried out."))
    if actor.kind in COUNTERPARTIES and not await _agreed_with(case_id, actor.kind):
        # Another party's plan is not this party's to report on.
        raise await refuse_party(actor=actor, case_id=case_id, action="progress", target=case_id)
    async with atomic():
        await record_event(
            case_id=case_id,
            actor=actor,
            kind="progress_update",
            data={"step": step, "tracking_no": tracking_no, "note": note},
            at=now,
        )


async def message_post(
    *,
    actor: Actor,
    case_id: int,
    party: str,
    body: str,
    evidence_ids: list[int] | None = None,
    now: datetime | None = None,
) -> Message:
    """One message (with files already attached to the case) to or from ``party``; our writing renews their link."""
    now = now or datetime.now(UTC)
    if party not in COUNTERPARTIES:
        raise ValidationFailed(_("Choose the supplier or the carrier."), fields=[("party", _("Choose one."))])
    body = _text(body, "body", required=not evidence_ids)
    case = await _case_by_id(case_id)
    _touch_counterparty(case)
    async with atomic():
        message = Message(
            case=case_id,
            party=party,
            author_kind=actor.kind,
            author_label=actor.label,
            body=body,
            via="web",
            internal=False,
            created_at=now,
        )
        await message.save()
        await record_event(
            case_id=case_id,
            actor=actor,
            kind="message",
            data={"message_id": message.id, "party": party, "length": len(body), "evidence_ids": evidence_ids or []},
            at=now,
        )
        if actor.kind == "user":
            await links.renew_links(case_id=case_id, party=party, now=now)
    return message


async def appeal_due(case_id: int, party: str) -> bool:
    """Whether a party's new dispute would be an appeal: a decision on a dispute it sees stands."""
    if party == visibility.US:
        return False  # we reopen mediation from the case page with our own evidence on it
    decided = await Dispute.objects().where((Dispute.case == case_id) & Dispute.decided_at.is_not_null())
    return any(visibility.dispute_seen(row, party) for row in decided)


async def appeal_check(case_id: int, party: str, *, has_evidence: bool) -> bool:
    """Whether a dispute by ``party`` would be an appeal; refuses one that brings no new evidence.

    Routes call it before storing any file, so a refused appeal leaves nothing behind.
    """
    appeal = await appeal_due(case_id, party)
    if appeal and not has_evidence:
        raise ValidationFailed(
            _("This case was decided in mediation: an appeal needs new evidence."),
            fields=[("evidence", _("Attach the new evidence."))],
        )
    return appeal


async def dispute_open(
    *,
    actor: Actor,
    case_id: int,
    opened_by: str,
    reason: str,
    evidence_ids: list[int] | None = None,
    files: Sequence[PreparedUpload] = (),
    now: datetime | None = None,
) -> Dispute:
    """Mediation: the case moves to disputed and remembers the node it left.

    After a decision a new dispute is an appeal: it needs new evidence (files sent with it) and is marked so.
    ``files`` (checked and stored already) are recorded in the dispute's own transaction: a refused dispute
    leaves no file and no ``evidence_added`` event on the case.
    """
    now = now or datetime.now(UTC)
    reason = _text(reason, "reason", required=True)
    case = await _case_by_id(case_id)
    if states.Node(case.node) not in states.DISPUTABLE:
        raise Conflict(_("Mediation opens on a case in responsibility, plan or implementation."))
    appeal = await appeal_check(
        case_id, opened_by, has_evidence=bool(evidence_ids) or any(item.accepted for item in files)
    )
    async with atomic():
        attached = await evidence_attach(actor=actor, case_id=case_id, prepared=files, party=opened_by, now=now)
        evidence_ids = [*(evidence_ids or []), *(item.evidence.id for item in attached)]
        dispute = Dispute(case=case_id, opened_by=opened_by, from_node=case.node, reason=reason, opened_at=now)
        await dispute.save()
        await case_move(actor=actor, number=case.number, target="disputed", reason=reason, now=now)
        await record_event(
            case_id=case_id,
            actor=actor,
            kind="dispute_opened",
            data={
                "dispute_id": dispute.id,
                "from": case.node,
                "reason": reason,
                "appeal": appeal,
                "evidence_ids": list(evidence_ids or []),
            },
            at=now,
        )
    return dispute


async def dispute_decide(
    *, actor: Actor, dispute_id: int, decision: str, rationale: str, now: datetime | None = None
) -> Dispute:
    """A manager's decision with its rationale; the case returns to the node it left, and from responsibility
    moves on to the plan (the route then mails the decision to the parties concerned)."""
    now = now or datetime.now(UTC)
    if decision not in DECISIONS:
        raise ValidationFailed(_("Choose a decision."), fields=[("decision", _("Choose who is responsible."))])
    rationale = _text(rationale, "rationale", required=True)
    dispute = await Dispute.objects().where(Dispute.id == dispute_id).first()
    if dispute is None:
        raise NotFound(_("There is no such dispute."))
    if dispute.decided_at is not None:
        raise Conflict(_("This dispute is already decided."))
    case = await _case_by_id(dispute.case)
    async with atomic():
        await Dispute.update(
            {
                Dispute.decision: decision,
                Dispute.rationale: rationale,
                Dispute.decided_by: int(actor.id) if actor.kind == "user" and actor.id else None,
                Dispute.decided_at: now,
            }
        ).where(Dispute.id == dispute.id)
        if decision in ("supplier", "carrier", "purchaser"):
            await Case.update({Case.confirmed_party: decision, Case.confirmed_reason: rationale}).where(
                Case.id == case.id
            )
        await record_event(
            case_id=case.id,
            actor=actor,
            kind="dispute_decided",
            data={"dispute_id": dispute.id, "decision": decision, "rationale": rationale},
            at=now,
        )
        if case.node == states.Node.DISPUTED.value:
            await case_move(
                actor=actor, number=case.number, target=dispute.from_node, reason=N_("Dispute decided"), now=now
            )
        if dispute.from_node == states.Node.RESPONSIBILITY.value and case.node in (
            states.Node.DISPUTED.value,
            states.Node.RESPONSIBILITY.value,
        ):
            # Responsibility is settled by the decision: the case moves on to the plan for the party decided.
            await case_move(
                actor=actor,
                number=case.number,
                target="plan",
                reason=N_("Responsibility decided in mediation"),
                now=now,
            )
    decided = await Dispute.objects().where(Dispute.id == dispute.id).first()
    assert decided is not None
    return decided


async def link_revoke(*, actor: Actor, number: str, link_id: int, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    case = await _case(number)
    link = await AccessLink.objects().where((AccessLink.id == link_id) & (AccessLink.case == case.id)).first()
    if link is None:
        raise NotFound(_("There is no such link."))
    async with atomic():
        await links.revoke_links(case_id=case.id, party=link.party, link_id=link.id, now=now)
        await record_event(
            case_id=case.id, actor=actor, kind="link_revoked", data={"link_id": link.id, "party": link.party}, at=now
        )


async def set_party_time_zone(kind: str, party_id: str, zone: str) -> None:
    """Staff set the zone a supplier or carrier works in; its deadlines are shown to it on that clock."""
    table = Supplier if kind == "supplier" else Carrier if kind == "carrier" else None
    number = int(party_id) if party_id.isdecimal() else 0
    if table is None or not await table.exists().where(table.id == number):
        raise NotFound(_("There is no such supplier or carrier."))
    zone = zone.strip()
    if not valid_time_zone(zone):
        raise ValidationFailed(
            _("Choose a time zone from the list."),
            fields=[("time_zone", _("%(zone)s is not a time zone we know.", zone=zone or "—"))],
        )
    await table.update({table.time_zone: zone}).where(table.id == number)
