"""Reads for collaboration: what a party may see of its case, the staff panel, disputes and party answer times."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import available_timezones

from app.cases.responsibility import hint_panel, json_object
from app.cases.tables import Case, CaseEvent, Message
from app.cases.taxonomy import PROBLEM_TYPES, REMEDIES
from app.collaboration import visibility
from app.collaboration.links import PartyAccess, is_live
from app.collaboration.services import PROGRESS
from app.collaboration.tables import AccessLink, Dispute, PlanProposal
from app.errors import NotFound
from app.evidence import selectors as evidence
from app.evidence.tables import Evidence
from app.i18n import company_zone
from app.i18n import gettext as _
from app.playbooks import lookup as playbooks
from app.tracking.tables import StageDeadline
from app.trade.tables import Carrier, Supplier

# A party's answer: the first of these after a push stops the answer clock.
ANSWER_EVENTS = ("party_response", "plan_proposed", "plan_agreed", "message", "progress_update")


async def party_case(access: PartyAccess, number: str) -> Case:
    """The case behind a party session; any other number is unknown to them (404, not 403)."""
    case = await Case.objects(Case.supplier, Case.carrier, Case.product).where(Case.number == number).first()
    if case is None or case.id != access.case_id:
        raise NotFound(_("There is nothing at this address."))
    return case


async def party_evidence_row(access: PartyAccess, case: Case, evidence_id: str) -> Evidence:
    """One file the party may see: on its case, accepted, ours or its own."""
    try:
        row = await evidence.evidence_get(evidence_id)
    except NotFound:
        raise NotFound(_("There is nothing at this address.")) from None
    if row.case != case.id or row.status != evidence.OK or row.party not in ("us", access.party):
        raise NotFound(_("There is nothing at this address."))
    return row


async def visible_evidence(case_id: int, party: str) -> list[Evidence]:
    rows = (
        await Evidence.objects()
        .where((Evidence.case == case_id) & (Evidence.status == evidence.OK) & Evidence.party.is_in(["us", party]))
        .order_by(Evidence.id)
    )
    return list(rows)


async def thread(case_id: int, party: str) -> list[Message]:
    """The messages between us and one party, oldest first; internal notes never."""
    rows = (
        await Message.objects()
        .where((Message.case == case_id) & (Message.party == party) & (Message.internal.eq(False)))
        .order_by(Message.id)
    )
    return list(rows)


async def thread_view(case_id: int, party: str) -> dict[str, Any]:
    """A thread with the files sent along with its messages."""
    return {"messages": await thread(case_id, party), "attachments": await attachments(case_id), "party": party}


async def attachments(case_id: int) -> dict[int, list[Evidence]]:
    """The files sent with each message of a case, by message id (accepted files only)."""
    by_message: dict[int, list[int]] = {}
    for event in await events_of(case_id, frozenset({"message"})):
        ids = [int(i) for i in event["data"].get("evidence_ids", [])]
        if ids:
            by_message[int(event["data"]["message_id"])] = ids
    wanted = sorted({i for ids in by_message.values() for i in ids})
    rows = (
        await Evidence.objects().where(Evidence.id.is_in(wanted) & (Evidence.status == evidence.OK)) if wanted else []
    )
    found = {row.id: row for row in rows}
    return {message: [found[i] for i in ids if i in found] for message, ids in by_message.items()}


@dataclass(frozen=True)
class ProposalView:
    proposal: PlanProposal
    ready_by: str


async def proposals(case_id: int) -> list[ProposalView]:
    rows = await PlanProposal.objects().where(PlanProposal.case == case_id).order_by(PlanProposal.round)
    events = await CaseEvent.select(CaseEvent.data).where(
        (CaseEvent.case == case_id) & (CaseEvent.kind == "plan_proposed")
    )
    ready = {}
    for event in events:
        data = json_object(event["data"])
        ready[data.get("proposal_id")] = data.get("ready_by") or ""
    return [ProposalView(row, ready.get(row.id, "")) for row in rows]


async def agreed_plan(case_id: int) -> ProposalView | None:
    """The plan both sides accepted, for the customer to confirm (the tracking page shows it)."""
    agreed = [view for view in await proposals(case_id) if view.proposal.status == "accepted"]
    return agreed[-1] if agreed else None


async def events_of(case_id: int, kinds: frozenset[str] | None = None) -> list[dict[str, Any]]:
    rows = await CaseEvent.select().where(CaseEvent.case == case_id).order_by(CaseEvent.id)
    out = []
    for row in rows:
        if kinds is not None and row["kind"] not in kinds:
            continue
        out.append({**row, "data": json_object(row["data"])})
    return out


async def latest_push(case_id: int, party: str | None = None) -> dict[str, Any] | None:
    pushes = [e for e in await events_of(case_id, frozenset({"case_pushed"})) if party in (None, e["data"]["party"])]
    return pushes[-1]["data"] if pushes else None


async def responses(case_id: int, party: str) -> list[dict[str, Any]]:
    return [e for e in await events_of(case_id, frozenset({"party_response"})) if e["data"].get("party") == party]


async def progress(case_id: int) -> list[dict[str, Any]]:
    """Progress reported during implementation, by either side, oldest first."""
    return await events_of(case_id, frozenset({"progress_update"}))


async def customer_answer(case_id: int) -> dict[str, Any] | None:
    answers = await events_of(case_id, frozenset({"customer_plan_answer"}))
    return answers[-1] if answers else None


async def open_dispute(case_id: int) -> Dispute | None:
    row: Dispute | None = (
        await Dispute.objects()
        .where((Dispute.case == case_id) & Dispute.decided_at.is_null())
        .order_by(Dispute.id, ascending=False)
        .first()
    )
    return row


async def last_decision(case_id: int, among: frozenset[int] | None = None) -> Dispute | None:
    """The latest decided mediation of the case (``among``: of these disputes only, a party's own)."""
    where = (Dispute.case == case_id) & Dispute.decided_at.is_not_null()
    if among is not None:
        where = where & Dispute.id.is_in(sorted(among) or [0])
    row: Dispute | None = await Dispute.objects().where(where).order_by(Dispute.id, ascending=False).first()
    return row


async def party_proposals(view: visibility.PartyView) -> list[ProposalView]:
    """The rounds between us and this party, oldest first."""
    return [item for item in await proposals(view.case_id) if item.proposal.id in view.proposal_ids]


def acceptable_ids(rounds: list[ProposalView], side: str) -> frozenset[int]:
    """The open rounds ``side`` ("us" or a party) may accept: the page offers Accept on these only."""
    return frozenset(
        item.proposal.id
        for item in rounds
        if item.proposal.status == "open" and visibility.proposal_acceptable(item.proposal, side)
    )


async def party_page(access: PartyAccess, case: Case) -> dict[str, Any]:
    """Everything the party's page shows; built only from what this party may see (the party view)."""
    view = await visibility.party_view(case.id, access.party)
    rounds = await party_proposals(view)
    answer = await customer_answer(case.id)
    dispute = await open_dispute(case.id)
    return {
        "case": case,
        "party": access.party,
        "push": await latest_push(case.id, access.party),
        "evidence": await visible_evidence(case.id, access.party),
        **await thread_view(case.id, access.party),
        "proposals": rounds,
        "accept_ids": acceptable_ids(rounds, access.party),
        "responses": await responses(case.id, access.party),
        "answer": answer if answer and answer["data"].get("proposal_id") in view.proposal_ids else None,
        "dispute": dispute if dispute and dispute.id in view.dispute_ids else None,
        "decided": await last_decision(case.id, view.dispute_ids),
        "progress": [e for e in await progress(case.id) if visibility.progress_seen(e, access.party)],
        "step_labels": PROGRESS,
        "events": await visibility.party_events(view),
        "remedies": REMEDIES,
        "problem_types": PROBLEM_TYPES,
        **await party_clock(case, access.party),
    }


async def party_clock(case: Case, party: str) -> dict[str, Any]:
    """The open clock this party holds on the case, with the party's time zone to show it in (theirs first)."""
    clock = (
        await StageDeadline.objects()
        .where(
            (StageDeadline.case == case.id) & (StageDeadline.owner_party == party) & StageDeadline.finished_at.is_null()
        )
        .order_by(StageDeadline.id, ascending=False)
        .first()
    )
    table = Supplier if party == "supplier" else Carrier
    party_id = _fk(case.supplier if party == "supplier" else case.carrier)
    row = await table.select(table.time_zone).where(table.id == party_id).first() if party_id else None
    zone = (row or {}).get("time_zone") or company_zone()
    return {"clock": clock, "party_zone": zone, "our_zone": company_zone()}


def _fk(value: Any) -> int | None:
    """A foreign key's id, whether the row was loaded with the related row or not."""
    return getattr(value, "id", value) or None


async def staff_panel(case: Case) -> dict[str, Any]:
    """The collaboration region of the case page."""
    now = datetime.now(UTC)
    link_rows = (
        await AccessLink.objects()
        .where((AccessLink.case == case.id) & AccessLink.party.is_in(["supplier", "carrier"]))
        .order_by(AccessLink.id)
    )
    hint = json_object(case.hint)
    suggested = str(hint.get("party")) if hint.get("party") in ("supplier", "carrier") else "supplier"
    rounds = await proposals(case.id)
    pushed = await latest_push(case.id)
    return {
        "links": [(row, is_live(row, now)) for row in link_rows],
        "suggested_party": suggested,
        "address": await push_address(case.id, suggested),
        "push": pushed,
        "proposals": rounds,
        "accept_ids": acceptable_ids(rounds, visibility.US),
        "propose_to": (pushed or {}).get("party") or suggested,
        # Prefilled "cite this basis": the hint's citations, the handler unticks what not to send.
        "basis_choices": [str(citation) for citation in hint.get("basis", [])],
        "threads": {party: await thread_view(case.id, party) for party in ("supplier", "carrier")},
        "responses": {party: await responses(case.id, party) for party in ("supplier", "carrier")},
        # Files a party sent (with an answer or a message), so they show on an open page as they arrive.
        "party_files": [
            row
            for row in await evidence.evidence_for_case(case.id)
            if row.status == evidence.OK and row.party in ("supplier", "carrier")
        ],
        "answer": await customer_answer(case.id),
        # A customer with a tracking link answers the agreed plan there; the handler records it only otherwise.
        "customer_tracks": await AccessLink.exists().where(
            (AccessLink.case == case.id) & (AccessLink.party == "customer")
        ),
        "dispute": await open_dispute(case.id),
        "progress": await progress(case.id),
        "step_labels": PROGRESS,
        "today": now.date(),
    }


async def push_address(case_id: int, party: str, email: str | None = None) -> dict[str, Any]:
    """The push form's address for ``party``: its known addresses, its language and who the mail would reach.

    ``email`` is what the handler typed (None: the party's first known address); ``elsewhere`` is the other
    party of the case it belongs to, which the push would refuse.
    """
    party = party if party in ("supplier", "carrier") else "supplier"
    contacts = await visibility.case_contacts(case_id)
    contact = await with_playbook_contact(contacts[party], case_id)
    email = contact.email if email is None else email.strip()
    return {
        "party": party,
        "contact": contact,
        "email": email,
        "elsewhere": visibility.owner_elsewhere(contacts, party, email) if email else None,
    }


async def with_playbook_contact(contact: visibility.PartyContact, case_id: int) -> visibility.PartyContact:
    """The party's contact with the claims address its playbook names for this case first (and its language)."""
    chosen = await playbooks.push_contact(case_id, contact.kind)
    if chosen is None:
        return contact
    emails = tuple(dict.fromkeys((chosen.email, *contact.emails)))
    return replace(contact, emails=emails, language=chosen.language or contact.language)


async def dispute_page(dispute_id: str) -> dict[str, Any]:
    """Both positions side by side: our events and evidence, theirs, the hint and the deadlines."""
    number = int(dispute_id) if dispute_id.isdecimal() else 0
    dispute = await Dispute.objects().where(Dispute.id == number).first()
    if dispute is None:
        raise NotFound(_("There is no such dispute."))
    case = await Case.objects(Case.supplier, Case.carrier).where(Case.id == dispute.case).first()
    assert case is not None
    events = await events_of(case.id)
    files = [row for row in await evidence.evidence_for_case(case.id) if row.status == evidence.OK]
    ours = [e for e in events if e["actor_kind"] in ("user", "system") and e["kind"] != "party_viewed"]
    theirs = [e for e in events if e["actor_kind"] in ("supplier", "carrier") and e["kind"] != "party_viewed"]
    opened = next(
        (e for e in events if e["kind"] == "dispute_opened" and e["data"].get("dispute_id") == dispute.id), None
    )
    return {
        "dispute": dispute,
        "appeal": bool(opened and opened["data"].get("appeal")),
        "case": case,
        "hint": hint_panel(case, today=datetime.now(UTC).date()),
        "our_events": ours,
        "their_events": theirs,
        "our_files": [row for row in files if row.party == "us"],
        "their_files": [row for row in files if row.party != "us"],
        "proposals": await proposals(case.id),
        "remedies": REMEDIES,
    }


@dataclass(frozen=True)
class PartyCase:
    number: str
    node: str
    pushed_at: datetime | None
    reply_by: str
    answered_at: datetime | None

    @property
    def answer_hours(self) -> float | None:
        if self.pushed_at is None or self.answered_at is None:
            return None
        return round((self.answered_at - self.pushed_at).total_seconds() / 3600, 1)

    @property
    def on_time(self) -> bool | None:
        """Answered by the reply date we set (None while unanswered or never pushed)."""
        if self.answered_at is None or not self.reply_by:
            return None
        return self.answered_at.date().isoformat() <= self.reply_by


async def _answer_rows(kind: str, cases: list[dict[str, Any]]) -> list[PartyCase]:
    """Each case's first push to ``kind`` and the party's first answer after it, from one query."""
    ids = [case["id"] for case in cases]
    events = (
        await CaseEvent.select(CaseEvent.case, CaseEvent.at, CaseEvent.actor_kind, CaseEvent.kind, CaseEvent.data)
        .where(CaseEvent.case.is_in(ids) & CaseEvent.kind.is_in(["case_pushed", *ANSWER_EVENTS]))
        .order_by(CaseEvent.id)
        if ids
        else []
    )
    pushed: dict[int, tuple[datetime, str]] = {}
    answered: dict[int, datetime] = {}
    for event in events:
        case_id, data = event["case"], json_object(event["data"])
        if event["kind"] == "case_pushed" and data.get("party") == kind and case_id not in pushed:
            pushed[case_id] = (event["at"], str(data.get("reply_by", "")))
        elif event["actor_kind"] == kind and case_id in pushed and case_id not in answered:
            answered[case_id] = event["at"]
    rows = []
    for case in cases:
        at, reply_by = pushed.get(case["id"], (None, ""))
        rows.append(PartyCase(case["number"], case["node"], at, reply_by, answered.get(case["id"])))
    return rows


def _median(values: list[float]) -> float | None:
    return sorted(values)[len(values) // 2] if values else None


async def party_overview(kind: str, party_id: str) -> dict[str, Any]:
    """One supplier's or carrier's cases and how long they took to answer our first push."""
    number = int(party_id) if party_id.isdecimal() else 0
    table = Supplier if kind == "supplier" else Carrier if kind == "carrier" else None
    party = await table.select().where(table.id == number).first() if table is not None else None
    if table is None or party is None:
        raise NotFound(_("There is no such supplier or carrier."))
    column = Case.supplier if kind == "supplier" else Case.carrier
    cases = await Case.select(Case.id, Case.number, Case.node).where(column == number).order_by(Case.id)
    rows = await _answer_rows(kind, cases)
    hours = [row.answer_hours for row in rows if row.answer_hours is not None]
    return {
        "kind": kind,
        "party": party,
        "cases": rows,
        "answered": len(hours),
        "late": sum(1 for row in rows if row.on_time is False),
        "median_hours": _median(hours),
        "time_zones": sorted(available_timezones()),
    }


async def parties_index() -> list[dict[str, Any]]:
    """Every supplier and carrier with cases: how many, how many answered, the median first answer."""
    out = []
    for kind, table, column in (("supplier", Supplier, Case.supplier), ("carrier", Carrier, Case.carrier)):
        parties = await table.select(table.id, table.name).order_by(table.name)
        cases = await Case.select(Case.id, Case.number, Case.node, column.as_alias("party")).where(column.is_not_null())
        for party in parties:
            own = [case for case in cases if case["party"] == party["id"]]
            if not own:
                continue
            rows = await _answer_rows(kind, own)
            hours = [row.answer_hours for row in rows if row.answer_hours is not None]
            out.append(
                {
                    "kind": kind,
                    "id": party["id"],
                    "name": party["name"],
                    "cases": len(own),
                    "open": sum(1 for row in rows if row.node not in ("closed", "cancelled")),
                    "answered": len(hours),
                    "median_hours": _median(hours),
                }
            )
    return out
