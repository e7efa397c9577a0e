"""Agreed plans the customer has not answered in time: whom the reminder sweep asks to confirm or decline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.cases.responsibility import json_object
from app.cases.tables import Case, CaseEvent
from app.collaboration.tables import AccessLink, PlanProposal
from app.trade.tables import Customer

# The reminder's level in the claim key and on the timeline (one reminder per agreed plan and address).
LEVEL = "answer"


@dataclass(frozen=True)
class UnansweredPlan:
    case_id: int
    proposal_id: int
    email: str

    @property
    def claim_key(self) -> str:
        return f"{self.case_id}:plan#p{self.proposal_id}:{LEVEL}:email:{self.email}"[:255]


async def unanswered_plans(*, hours: int, now: datetime) -> list[UnansweredPlan]:
    """Plans agreed more than ``hours`` ago that still wait for the customer's answer, with the address to ask.

    The address is the customer record's, else the one their tracking link was sent to; none: nobody to ask.
    """
    cases = await Case.select(Case.id, Case.customer).where(Case.node == "plan")
    if not cases:
        return []
    ids = [row["id"] for row in cases]
    events = (
        await CaseEvent.select(CaseEvent.case, CaseEvent.kind, CaseEvent.data, CaseEvent.at)
        .where(CaseEvent.case.is_in(ids) & CaseEvent.kind.is_in(["plan_agreed", "customer_plan_answer"]))
        .order_by(CaseEvent.id)
    )
    waiting: dict[int, tuple[int, datetime]] = {}
    answered: set[int] = set()
    for event in events:
        data = json_object(event["data"])
        if event["kind"] == "customer_plan_answer":
            answered.add(int(data.get("proposal_id") or 0))
        elif data.get("awaiting") == "customer":
            waiting[event["case"]] = (int(data.get("proposal_id") or 0), event["at"])
    due = {
        case_id: proposal_id
        for case_id, (proposal_id, agreed_at) in waiting.items()
        if proposal_id not in answered and agreed_at <= now - timedelta(hours=hours)
    }
    if not due:
        return []
    still = await PlanProposal.select(PlanProposal.id).where(
        PlanProposal.id.is_in(sorted(due.values())) & (PlanProposal.status == "accepted")
    )
    accepted = {row["id"] for row in still}
    customers = {row["id"]: row["customer"] for row in cases}
    out = []
    for case_id, proposal_id in sorted(due.items()):
        if proposal_id not in accepted:
            continue
        email = await _customer_email(case_id, customers.get(case_id))
        if email:
            out.append(UnansweredPlan(case_id, proposal_id, email))
    return out


async def _customer_email(case_id: int, customer_id: int | None) -> str:
    row = await Customer.select(Customer.email).where(Customer.id == customer_id).first() if customer_id else None
    if row and row["email"]:
        return str(row["email"])
    link = (
        await AccessLink.select(AccessLink.email)
        .where((AccessLink.case == case_id) & (AccessLink.party == "customer") & (AccessLink.email != ""))
        .order_by(AccessLink.id, ascending=False)
        .first()
    )
    return str(link["email"]) if link else ""
