"""What a supplier or carrier sees of its case and may act on: the one place these rules live.

Every read for a party page, a party's claim pack or a party's stream goes through ``PartyView``; every party
action asks it first. A party sees the case facts we share, our evidence and its own, its own thread, the
proposals between us and it, its own answers and disputes; never another party's proposals, messages, answers,
files or identity, and never our hint, confidence, rule ids or our deadlines (docs/SECURITY.md, "What each
party sees").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.cases.responsibility import json_object
from app.cases.tables import Case, CaseEvent
from app.collaboration.tables import AccessLink, Dispute, PlanProposal
from app.trade.tables import Carrier, Customer, Supplier

US = "us"
# Staff and the system act for us; what they do on a party's business is shown to that party.
OUR_ACTORS = frozenset({"user", "system"})
# Timeline kinds a party may see at all; each one is then kept only when it concerns this party.
PARTY_EVENTS = frozenset(
    {
        "case_pushed",
        "party_response",
        "plan_proposed",
        "plan_agreed",
        "customer_plan_answer",
        "progress_update",
        "dispute_opened",
        "dispute_decided",
        "node_changed",
    }
)


def proposal_seen(proposal: PlanProposal, party: str) -> bool:
    """A round between us and this party: its own, or ours addressed to it."""
    return proposal.party == party and proposal.proposed_by in (US, party)


def proposal_acceptable(proposal: PlanProposal, side: str) -> bool:
    """Who may accept a round: a party only what we proposed to it; we only what a party proposed to us."""
    if side == US:
        return proposal.proposed_by != US
    return proposal.proposed_by == US and proposal.party == side


def dispute_seen(dispute: Dispute, party: str) -> bool:
    """A party sees the mediation it asked for and its decision; another party's stays between it and us."""
    return dispute.opened_by == party


def progress_seen(event: dict[str, Any], party: str) -> bool:
    """Progress we report, and the party's own; never another party's shipment or refund."""
    return event["actor_kind"] in OUR_ACTORS or event["actor_kind"] == party


@dataclass(frozen=True)
class PartyView:
    """One party's window on one case: which proposals, disputes and events are its business."""

    case_id: int
    party: str
    proposal_ids: frozenset[int]
    dispute_ids: frozenset[int]

    def event(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """The event as this party may read it, or None: who else did what stays out, and so do reasons."""
        kind, data = event["kind"], event["data"]
        if kind not in PARTY_EVENTS:
            return None
        if kind in ("case_pushed", "party_response") and data.get("party") != self.party:
            return None
        if kind in ("plan_proposed", "plan_agreed", "customer_plan_answer"):
            if data.get("proposal_id") not in self.proposal_ids:
                return None
        if kind == "progress_update" and not progress_seen(event, self.party):
            return None
        if kind in ("dispute_opened", "dispute_decided") and data.get("dispute_id") not in self.dispute_ids:
            return None
        if kind == "node_changed":
            # The step is a case fact; why it moved (a dispute's reason, our note) is not.
            data = {key: data[key] for key in ("from", "to") if key in data}
        elif kind == "case_pushed":
            data = {key: data[key] for key in ("party", "requirement", "reply_by") if key in data}
        elif kind == "plan_agreed":
            data = {key: value for key, value in data.items() if key != "payer"}  # who pays is our record
        own = event["actor_kind"] in OUR_ACTORS or event["actor_kind"] == self.party
        return {
            **event,
            "data": data,
            "actor_kind": event["actor_kind"] if own else "",
            "actor_label": event["actor_label"] if own else "",
        }


async def party_view(case_id: int, party: str) -> PartyView:
    proposals = await PlanProposal.objects().where(PlanProposal.case == case_id)
    disputes = await Dispute.objects().where(Dispute.case == case_id)
    return PartyView(
        case_id=case_id,
        party=party,
        proposal_ids=frozenset(p.id for p in proposals if proposal_seen(p, party)),
        dispute_ids=frozenset(d.id for d in disputes if dispute_seen(d, party)),
    )


async def party_events(view: PartyView) -> list[dict[str, Any]]:
    """The party's timeline, oldest first, each event cut down to what it may read."""
    rows = (
        await CaseEvent.select()
        .where((CaseEvent.case == view.case_id) & CaseEvent.kind.is_in(sorted(PARTY_EVENTS)))
        .order_by(CaseEvent.id)
    )
    out = []
    for row in rows:
        seen = view.event({**row, "data": json_object(row["data"])})
        if seen is not None:
            out.append(seen)
    return out


@dataclass(frozen=True)
class PartyContact:
    """Who a party of a case is: its company and the addresses we know for it (its record's first)."""

    kind: str
    name: str
    language: str
    emails: tuple[str, ...]

    @property
    def email(self) -> str:
        return self.emails[0] if self.emails else ""

    def owns(self, email: str) -> bool:
        return email.strip().lower() in {known.lower() for known in self.emails}


async def case_contacts(case_id: int) -> dict[str, PartyContact]:
    """The supplier, carrier and customer of a case with their known addresses, by party kind.

    A counterparty's addresses are its record's and those we sent its links to on this case; the push form
    offers them for that party only, and a push refuses an address that belongs to another party.
    """
    case = await Case.select(Case.supplier, Case.carrier, Case.customer).where(Case.id == case_id).first()
    sent = (
        await AccessLink.select(AccessLink.party, AccessLink.email)
        .where(AccessLink.case == case_id)
        .order_by(AccessLink.id, ascending=False)
    )
    out = {}
    for kind, table in (("supplier", Supplier), ("carrier", Carrier), ("customer", Customer)):
        row_id = (case or {}).get(kind)
        row = (
            await table.select(table.name, table.email, table.language).where(table.id == row_id).first()
            if row_id
            else None
        )
        emails = [str((row or {}).get("email") or "")] + [str(link["email"]) for link in sent if link["party"] == kind]
        unique = tuple(dict.fromkeys(email for email in emails if email))
        out[kind] = PartyContact(
            kind, str((row or {}).get("name") or ""), str((row or {}).get("language") or "en"), unique
        )
    return out


@dataclass(frozen=True)
class CustomerPlan:
    """The agreed plan as the customer reads it: what they get, when and how much; nothing said between us and the
    supplier or carrier, and not who pays."""

    proposal_id: int
    remedy: str
    amount: Decimal | None
    currency: str
    ready_by: str


async def customer_plan(case_id: int) -> CustomerPlan | None:
    """The agreed plan waiting for the customer's answer, or None (no plan, already answered, or not in plan)."""
    case = await Case.select(Case.node).where(Case.id == case_id).first()
    if case is None or case["node"] != "plan":
        return None
    agreed = await _agreed_round(case_id)
    if agreed is None:
        return None
    answers = await CaseEvent.select(CaseEvent.data).where(
        (CaseEvent.case == case_id) & (CaseEvent.kind == "customer_plan_answer")
    )
    if any(json_object(row["data"]).get("proposal_id") == agreed.id for row in answers):
        return None
    return CustomerPlan(agreed.id, agreed.remedy, agreed.amount, agreed.currency, await _ready_by(case_id, agreed.id))


# Nodes at which the agreed plan is the case's resolution (confirmed by the customer, or needing no answer).
RESOLVED_NODES = ("implementation", "completed", "feedback", "closed")


async def customer_resolution(case_id: int) -> CustomerPlan | None:
    """The plan being carried out or carried out, as the customer reads it (what, how much, when), or None."""
    case = await Case.select(Case.node).where(Case.id == case_id).first()
    if case is None or case["node"] not in RESOLVED_NODES:
        return None
    agreed = await _agreed_round(case_id)
    if agreed is None:
        return None
    return CustomerPlan(agreed.id, agreed.remedy, agreed.amount, agreed.currency, await _ready_by(case_id, agreed.id))


async def _agreed_round(case_id: int) -> PlanProposal | None:
    """The latest round both sides accepted (a declined one is no longer accepted)."""
    return (
        await PlanProposal.objects()
        .where((PlanProposal.case == case_id) & (PlanProposal.status == "accepted"))
        .order_by(PlanProposal.round, ascending=False)
        .first()
    )


async def _ready_by(case_id: int, proposal_id: int) -> str:
    """The date the round proposed the plan to be done by ("" when it named none)."""
    proposed = await CaseEvent.select(CaseEvent.data).where(
        (CaseEvent.case == case_id) & (CaseEvent.kind == "plan_proposed")
    )
    return next(
        (
            str(data.get("ready_by") or "")
            for data in map(json_object, (row["data"] for row in proposed))
            if data.get("proposal_id") == proposal_id
        ),
        "",
    )


def owner_elsewhere(contacts: dict[str, PartyContact], party: str, email: str) -> PartyContact | None:
    """The other party of the case an address belongs to (and not also to ``party``), if any."""
    if contacts[party].owns(email):
        return None
    return next((c for kind, c in contacts.items() if kind != party and c.owns(email)), None)
