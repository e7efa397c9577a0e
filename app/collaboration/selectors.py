"""Reads for collaboration: what a party may see of its case, the staff panel, disputes and party answer times."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import available_timezones

from app.cases.responsibility import hint_panel, json_object
from app.cases.tables import Case, CaseEvent, Message
from app.cases.taxonomy import PROBLEM_TYPES, REMEDIES
from app.collaboration import visibility
from app.collaboration.links import PartyAccess, is_live
from app.collaboration.pushes import push_state
from app.collaboration.services import PROGRESS
from app.collaboration.tables import AccessLink, Dispute, PlanProposal
from app.errors import NotFound
from app.evidence import selectors as evidence
from app.evidence.tables import Evidence
from app.i18n import company_zone, label, zone_or_default
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


@dataclass(frozen=True)
class CaptionedEvidence:
    """A file as the party and mediation pages caption it: what it shows and who sent it (its hash stays on
    the case's evidence panel and the claim pack, the proof views)."""

    row: Evidence
    shows: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)


def captioned(row: Evidence) -> CaptionedEvidence:
    return CaptionedEvidence(row, evidence.evidence_label(row.covers) or row.filename or _("a file"))


async def thread(case_id: int, party: str) -> list[Message]:
    """The messages between us and one party, oldest first; internal notes never."""
    rows = (
        await Message.objects()
        .where((Message.case == case_id) & (Message.party == party) & (Message.internal.eq(False)))
        .order_by(Message.id)
    )
    return list(rows)


async def thread_view(case_id: int, party: str) -> dict[str, Any]:
    """A thread with the files sent along with its messages, and the name each party's messages are signed with
    (the company, not the address a message came from)."""
    return {
        "messages": await thread(case_id, party),
        "attachments": await attachments(case_id),
        "party": party,
        "author_names": await party_names(case_id),
    }


async def party_names(case_id: int) -> dict[str, str]:
    """The supplier's and carrier's company names on a case, by party kind (missing ones left out)."""
    row = (
        await Case.select(Case.supplier.name.as_alias("supplier"), Case.carrier.name.as_alias("carrier"))
        .where(Case.id == case_id)
        .first()
    )
    return {kind: str(name) for kind, name in (row or {}).items() if name}


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
    push = await latest_push(case.id, access.party)
    clock = await party_clock(case, access.party)
    return {
        "case": case,
        "party": access.party,
        "push": push,
        "evidence": [captioned(row) for row in await visible_evidence(case.id, access.party)],
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
        **clock,
        "answer_by": answer_by(push, clock["clock"], clock["party_zone"]),
    }


@dataclass(frozen=True)
class AnswerBy:
    """The one date a party is asked to answer by, and which deadline it is.

    ``source`` is "reply_by" (the date we set when we sent the case, to the end of that day on the party's
    clock) or "stage" (the time limit of the step whose clock the party holds); whichever ends first counts,
    and ``later`` says the other one exists and ends after it.
    """

    at: datetime
    source: str
    node: str
    later: bool


def answer_by(push: dict[str, Any] | None, clock: StageDeadline | None, zone: str) -> AnswerBy | None:
    asked = None
    if push and push.get("reply_by"):
        day = date.fromisoformat(str(push["reply_by"]))
        asked = datetime.combine(day, time(23, 59), zone_or_default(zone)).astimezone(UTC)
    if clock is not None and (asked is None or clock.due_at < asked):
        return AnswerBy(clock.due_at, "stage", clock.node, asked is not None)
    if asked is not None:
        return AnswerBy(asked, "reply_by", clock.node if clock else "", clock is not None)
    return None


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
    return {"clock": clock, "party_zone": await party_zone(case, party), "our_zone": company_zone()}


async def party_zone(case: Case, party: str) -> str:
    """The zone every time on the party's page is shown in: the supplier's or carrier's own, else the company's."""
    table = Supplier if party == "supplier" else Carrier
    party_id = _fk(case.supplier if party == "supplier" else case.carrier)
    row = await table.select(table.time_zone).where(table.id == party_id).first() if party_id else None
    return str((row or {}).get("time_zone") or company_zone())


def _fk(value: Any) -> int | None:
    """A foreign key's id, whether the row was loaded with the related row or not."""
    return getattr(value, "id", value) or None


async def staff_panel(case: Case, *, party: str = "") -> dict[str, Any]:
    """The collaboration region of the case page; ``party`` opens the push form for that party."""
    now = datetime.now(UTC)
    link_rows = (
        await AccessLink.objects()
        .where((AccessLink.case == case.id) & AccessLink.party.is_in(["supplier", "carrier"]))
        .order_by(AccessLink.id)
    )
    hint = json_object(case.hint)
    # The party asked for, else the one the handler settled on, else the hint's.
    choices = (party, case.confirmed_party, str(hint.get("party") or ""))
    suggested = next((choice for choice in choices if choice in ("supplier", "carrier")), "supplier")
    rounds = await proposals(case.id)
    pushed = await latest_push(case.id)
    return {
        "links": [(row, is_live(row, now)) for row in link_rows],
        "suggested_party": suggested,
        "address": await push_address(case.id, suggested),
        "push": pushed,
        "push_state": await push_state(case.id),
        "proposals": rounds,
        "accept_ids": acceptable_ids(rounds, visibility.US),
        "propose_to": (pushed or {}).get("party") or suggested,
        "open_push": party in ("supplier", "carrier"),
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


@dataclass(frozen=True)
class Position:
    """One side of a dispute, in the shape both sides share: what it says, what it asks, its files and facts."""

    side: str  # "us", "supplier" or "carrier"
    statement: list[str]  # our claim (what we ask, our note, the dispute's reason) or their answer
    remedy: str
    amount: Any
    currency: str
    evidence: list[tuple[CaptionedEvidence, str]]  # each file with who sent it
    facts: list[tuple[str, str]]


async def dispute_page(dispute_id: str) -> dict[str, Any]:
    """Both positions side by side in the same shape, the rule suggestion with its basis, and the deadlines."""
    number = int(dispute_id) if dispute_id.isdecimal() else 0
    dispute = await Dispute.objects().where(Dispute.id == number).first()
    if dispute is None:
        raise NotFound(_("There is no such dispute."))
    case = await Case.objects(Case.supplier, Case.carrier).where(Case.id == dispute.case).first()
    assert case is not None
    now = datetime.now(UTC)
    events = await events_of(case.id)
    files = [row for row in await evidence.evidence_for_case(case.id) if row.status == evidence.OK]
    names = await evidence.uploader_names(files)
    # A party's file is recorded as sent through its link: the address the link went to names the sender.
    sent = await AccessLink.select(AccessLink.id, AccessLink.party, AccessLink.email).where(AccessLink.case == case.id)
    names |= {f"{row['party']}:{row['id']}": f"{label(row['party'], 'party')} · {row['email']}" for row in sent}
    opened = next(
        (e for e in events if e["kind"] == "dispute_opened" and e["data"].get("dispute_id") == dispute.id), None
    )
    pushes = [e["data"] for e in events if e["kind"] == "case_pushed"]
    hint = hint_panel(case, today=now.date())
    counterparty = (
        dispute.opened_by
        if dispute.opened_by in ("supplier", "carrier")
        else str((pushes[-1] if pushes else {}).get("party") or hint.hint.get("party") or "supplier")
    )
    rounds = await proposals(case.id)
    clock = (
        await StageDeadline.objects()
        .where((StageDeadline.case == case.id) & StageDeadline.finished_at.is_null())
        .first()
    )
    pushed = next((p for p in reversed(pushes) if p.get("party") == counterparty), None)
    return {
        "dispute": dispute,
        "appeal": bool(opened and opened["data"].get("appeal")),
        "case": case,
        "hint": hint,
        "ours": _our_position(case, dispute, pushed, rounds, files, names, hint),
        "theirs": _their_position(counterparty, dispute, events, rounds, files, names),
        "deadlines": deadlines_of(clock, str((pushed or {}).get("reply_by") or ""), hint, now),
        "proposals": rounds,
        "remedies": REMEDIES,
    }


def _sent_by(row: Evidence, names: dict[str, str]) -> str:
    """Who sent a file: the staff member's name for ours, the party and its link's address for theirs."""
    fallback = _("us") if row.party == visibility.US else label(row.party, "party")
    return names.get(row.uploaded_by, "") or fallback


def _our_position(
    case: Case,
    dispute: Dispute,
    pushed: dict[str, Any] | None,
    rounds: list[ProposalView],
    files: list[Evidence],
    names: dict[str, str],
    hint: Any,
) -> Position:
    statement = []
    if pushed:
        statement.append(_("We ask for: %(remedy)s.", remedy=str(REMEDIES.get(pushed["requirement"], ""))))
        if pushed.get("note"):
            statement.append(_("Our note: %(note)s", note=pushed["note"]))
        for citation in [*pushed.get("basis", []), *([pushed["basis_note"]] if pushed.get("basis_note") else [])]:
            statement.append(_("Basis: %(basis)s", basis=citation))
    if dispute.opened_by == visibility.US:
        statement.append(dispute.reason)
    offer = next((v.proposal for v in reversed(rounds) if v.proposal.proposed_by == visibility.US), None)
    claimed = case.claim_amount is not None
    return Position(
        side=visibility.US,
        statement=statement,
        remedy=str((pushed or {}).get("requirement") or (offer.remedy if offer else case.remedy or "")),
        amount=case.claim_amount if claimed else (offer.amount if offer else None),
        currency=case.currency if claimed or not offer else offer.currency,
        evidence=[(captioned(row), _sent_by(row, names)) for row in files if row.party == visibility.US],
        facts=[(field.spec.question, field.value) for field in hint.fields if field.value],
    )


def _their_position(
    party: str,
    dispute: Dispute,
    events: list[dict[str, Any]],
    rounds: list[ProposalView],
    files: list[Evidence],
    names: dict[str, str],
) -> Position:
    answers = [e for e in events if e["kind"] == "party_response" and e["data"].get("party") == party]
    answer = answers[-1]["data"] if answers else None
    statement = []
    if dispute.opened_by == party:
        statement.append(dispute.reason)
    elif answer and answer.get("reason"):
        statement.append(str(answer["reason"]))
    offer = next((v.proposal for v in reversed(rounds) if v.proposal.proposed_by == party), None)
    facts: list[tuple[str, str]] = []
    if answer:
        facts.append((_("Their answer on responsibility"), label(str(answer.get("response")), "response")))
        if answer.get("share"):
            facts.append((_("Share they accept"), f"{answer['share']}%"))
    if offer and offer.details:
        facts.append((_("Their proposal"), offer.details))
    return Position(
        side=party,
        statement=statement,
        remedy=offer.remedy if offer else "",
        amount=offer.amount if offer else None,
        currency=offer.currency if offer else "",
        evidence=[(captioned(row), _sent_by(row, names)) for row in files if row.party == party],
        facts=facts,
    )


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


@dataclass(frozen=True)
class QueueDeadline:
    """One deadline that bears on a dispute's decision: our mediation clock, the answer we asked, a notice period."""

    label: str
    due: datetime | date
    passed: bool
    regime: str = ""  # a trade rule's notice period: its regime, shown through the rule text filter


@dataclass(frozen=True)
class QueuedDispute:
    """An undecided dispute as the managers' queue lists it."""

    dispute: Dispute
    number: str
    opened_by: str
    age_days: int
    amount: Any
    currency: str
    appeal: bool
    deadlines: list[QueueDeadline]


def deadlines_of(clock: StageDeadline | None, reply_by: str, hint: Any, now: datetime) -> list[QueueDeadline]:
    """The deadlines that bear on a dispute's decision: our mediation clock, the answer date we asked of the
    party, and the hint's notice periods not yet met."""
    deadlines: list[QueueDeadline] = []
    if clock is not None:
        deadlines.append(QueueDeadline(_("Mediation to be decided by"), clock.due_at, clock.due_at < now))
    if reply_by:
        asked = date.fromisoformat(reply_by)
        deadlines.append(QueueDeadline(_("Party's answer asked by"), asked, asked < now.date()))
    for notice in hint.deadlines:
        if notice.status != "met":
            deadlines.append(QueueDeadline(notice.kind_label, notice.due, notice.status == "passed", notice.regime))
    return deadlines


async def dispute_queue(now: datetime | None = None) -> list[QueuedDispute]:
    """Every undecided dispute, the oldest first, with the money at stake and the deadlines that bear on it."""
    now = now or datetime.now(UTC)
    open_rows = await Dispute.objects().where(Dispute.decided_at.is_null()).order_by(Dispute.opened_at)
    ids = sorted({row.case for row in open_rows}) or [0]
    cases = {case.id: case for case in await Case.objects().where(Case.id.is_in(ids))}
    clocks = await StageDeadline.objects().where(StageDeadline.case.is_in(ids) & StageDeadline.finished_at.is_null())
    running = {clock.case: clock for clock in clocks}
    events = (
        await CaseEvent.select(CaseEvent.case, CaseEvent.kind, CaseEvent.data)
        .where(CaseEvent.case.is_in(ids) & CaseEvent.kind.is_in(["case_pushed", "dispute_opened"]))
        .order_by(CaseEvent.id)
    )
    reply_by: dict[int, str] = {}
    appeals: set[int] = set()
    for event in events:
        data = json_object(event["data"])
        if event["kind"] == "case_pushed":
            reply_by[event["case"]] = str(data.get("reply_by") or "")
        elif data.get("appeal"):
            appeals.add(int(data.get("dispute_id") or 0))
    out = []
    for row in open_rows:
        case = cases[row.case]
        hint = hint_panel(case, today=now.date())
        deadlines = deadlines_of(running.get(case.id), reply_by.get(case.id, ""), hint, now)
        out.append(
            QueuedDispute(
                dispute=row,
                number=case.number,
                opened_by=row.opened_by,
                age_days=(now - row.opened_at).days,
                amount=case.claim_amount,
                currency=case.currency,
                appeal=row.id in appeals,
                deadlines=deadlines,
            )
        )
    return out
