"""Writes for node clocks: start a StageDeadline when a case enters a node, finish it when it leaves."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.cases import states
from app.cases.tables import Case
from app.tracking.policies import BusinessCalendar, Policy, Step, current_policy
from app.tracking.tables import Reminder, StageDeadline
from app.trade.tables import Carrier, Customer, Supplier


def step_time(started_at: datetime, due_at: datetime, step: Step) -> datetime:
    """When a ladder step falls due: a share of the clock's whole span (75% of the way, 150%, …)."""
    return started_at + (due_at - started_at) * step.at


def next_check(policy: Policy, started_at: datetime, due_at: datetime, after: datetime | None) -> datetime | None:
    """The first ladder step later than ``after`` (or the first step), None when the ladder is done."""
    for step in policy.ladder:
        at = step_time(started_at, due_at, step)
        if after is None or at > after:
            return at
    return None


async def party_calendar(policy: Policy, case: Case, party: str) -> BusinessCalendar:
    """The working calendar of ``party`` on this case: their country and time zone when we know them."""
    if party == "supplier" and case.supplier:
        row = await Supplier.select(Supplier.country, Supplier.time_zone).where(Supplier.id == case.supplier).first()
        if row:
            return policy.party_calendar(party, country=row["country"], zone=row["time_zone"])
    if party == "carrier" and case.carrier:
        row = await Carrier.select(Carrier.time_zone).where(Carrier.id == case.carrier).first()
        if row:
            return policy.party_calendar(party, zone=row["time_zone"])
    if party == "customer" and case.customer:
        row = await Customer.select(Customer.time_zone).where(Customer.id == case.customer).first()
        if row:
            return policy.party_calendar(party, zone=row["time_zone"])
    return policy.party_calendar(party)


async def clock_start(*, case: Case, node: str, now: datetime) -> StageDeadline | None:
    """Start the clock of ``node``; call inside the transaction that moved the case there."""
    policy = current_policy()
    limit = policy.limit(node=node, problem_type=case.problem_type, urgency=case.urgency)
    if limit is None or states.Node(node) in states.FINAL:
        return None
    owner = policy.owner(node=node, problem_type=case.problem_type)
    calendar = await party_calendar(policy, case, owner)
    due_at = calendar.add(now, limit)
    deadline = StageDeadline(
        case=case.id,
        node=node,
        owner_party=owner,
        started_at=now,
        due_at=due_at,
        policy=f"{node}:{limit.label()}"[:60],
        next_check_at=next_check(policy, now, due_at, None),
    )
    await deadline.save()
    if node in policy.customer_nodes and case.customer:
        await _queue_customer_update(case=case, node=node, deadline_id=deadline.id, now=now)
    return deadline


async def _queue_customer_update(*, case: Case, node: str, deadline_id: int, now: datetime) -> None:
    """A queued claim row: the next sweep sends the customer their update, exactly once."""
    customer = await Customer.select(Customer.email).where(Customer.id == case.customer).first()
    if not customer or not customer["email"]:
        return
    await Reminder.raw(
        'INSERT INTO reminder (claim_key, "case", node, level, channel, recipient, status, attempts, error, claimed_at)'
        " VALUES ({}, {}, {}, 'update', 'email', {}, 'queued', 0, '', {}) ON CONFLICT (claim_key) DO NOTHING",
        f"{case.id}:{node}#{deadline_id}:update:email:{customer['email']}",
        case.id,
        node,
        customer["email"],
        now - timedelta(days=3650),
    )


async def clock_move(*, case_id: int, target: str, now: datetime) -> StageDeadline | None:
    """Stop the running clock of a case and start the one of ``target``; inside the move's transaction."""
    await StageDeadline.update(
        {StageDeadline.finished_at: now, StageDeadline.next_check_at: None}
    ).where((StageDeadline.case == case_id) & StageDeadline.finished_at.is_null())
    case = await Case.objects().where(Case.id == case_id).first()
    if case is None:
        return None
    return await clock_start(case=case, node=target, now=now)
