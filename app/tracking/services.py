"""Writes for node clocks: start a StageDeadline when a case enters a node, finish it when it leaves."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from app.cases import states
from app.cases.events import Actor, record_event
from app.cases.hooks import NodeEntered
from app.cases.tables import Case, CaseEvent
from app.db import atomic
from app.errors import Conflict, NotFound, ValidationFailed
from app.i18n import gettext as _
from app.logs import security_event
from app.notify.push import endpoint_problem
from app.notify.tables import PushSubscription
from app.playbooks import lookup as playbooks
from app.tracking.policies import COUNTERPARTIES, BusinessCalendar, Limit, Policy, Step, current_policy
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


async def working_party(case: Case) -> str:
    """The supplier or carrier this case is worked out with: the party settled on, else the last one we
    sent it to, else "" (the policy then goes by the problem type)."""
    if case.confirmed_party in COUNTERPARTIES:
        return str(case.confirmed_party)
    pushed = (
        await CaseEvent.select(CaseEvent.data)
        .where((CaseEvent.case == case.id) & (CaseEvent.kind == "case_pushed"))
        .order_by(CaseEvent.id, ascending=False)
        .first()
        .output(load_json=True)
    )
    party = (pushed or {}).get("data", {}) or {}
    return str(party.get("party", "")) if isinstance(party, dict) else ""


async def clock_to_party(*, case_id: int, party: str) -> None:
    """The case was sent to ``party``: a running clock held by the other counterparty passes to it (its due
    time stays); call inside the transaction of the push."""
    if party not in COUNTERPARTIES:
        return
    await StageDeadline.update({StageDeadline.owner_party: party}).where(
        (StageDeadline.case == case_id)
        & StageDeadline.finished_at.is_null()
        & StageDeadline.owner_party.is_in([other for other in COUNTERPARTIES if other != party])
    )


# The stage in which a supplier or carrier answers our claim: its playbook's answer time sets that clock.
ANSWER_NODES = ("responsibility",)


async def playbook_limit(case: Case, node: str, owner: str) -> Limit | None:
    """The answer time the owner's playbook gives, for a stage it holds (whole days when it is in days)."""
    if node not in ANSWER_NODES or owner not in COUNTERPARTIES:
        return None
    hours = await playbooks.answer_hours(owner, case.supplier if owner == "supplier" else case.carrier)
    if not hours:
        return None
    return Limit(days=hours // 24) if hours % 24 == 0 else Limit(hours=hours)


async def clock_start(*, case: Case, node: str, now: datetime) -> StageDeadline | None:
    """Start the clock of ``node``; call inside the transaction that moved the case there."""
    policy = current_policy()
    limit = policy.limit(node=node, problem_type=case.problem_type, urgency=case.urgency)
    if limit is None or states.Node(node) in states.FINAL:
        return None
    owner = policy.owner(node=node, problem_type=case.problem_type, counterpart=await working_party(case))
    limit = await playbook_limit(case, node, owner) or limit
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
        await _queue_customer_update(case=case, node=node, now=now)
    return deadline


async def _queue_customer_update(*, case: Case, node: str, now: datetime) -> None:
    """Queued claim rows (mail, and SMS when we have a phone): the next sweep sends each exactly once."""
    customer = await Customer.select(Customer.email, Customer.phone).where(Customer.id == case.customer).first()
    if not customer:
        return
    for channel, recipient in (("email", customer["email"]), ("sms", customer["phone"])):
        if not recipient:
            continue
        await Reminder.raw(
            'INSERT INTO reminder (claim_key, "case", node, level, channel, recipient, status, attempts, error,'
            " claimed_at) VALUES ({}, {}, {}, 'update', {}, {}, 'queued', 0, '', {})"
            " ON CONFLICT (claim_key) DO NOTHING",
            # One update per node and address: a case that goes back a stage and returns tells them once.
            f"{case.id}:{node}:update:{channel}:{recipient}"[:255],
            case.id,
            node,
            channel,
            recipient,
            now - timedelta(days=3650),
        )


async def clock_move(*, case_id: int, target: str, now: datetime) -> StageDeadline | None:
    """Stop the running clock of a case and start the one of ``target``; inside the move's transaction."""
    await StageDeadline.update({StageDeadline.finished_at: now, StageDeadline.next_check_at: None}).where(
        (StageDeadline.case == case_id) & StageDeadline.finished_at.is_null()
    )
    case = await Case.objects().where(Case.id == case_id).first()
    if case is None:
        return None
    return await clock_start(case=case, node=target, now=now)


async def clock_on_entry(entered: NodeEntered) -> None:
    """The clocks follow the case: a new case starts its first clock, a moved one stops the old and starts the next."""
    if entered.reported:
        await clock_start(case=entered.case, node=entered.node, now=entered.at)
    else:
        await clock_move(case_id=entered.case.id, target=entered.node, now=entered.at)


async def push_subscribe(
    *, user_id: int, endpoint: str, p256dh: str, auth: str, allowed_hosts: frozenset[str] = frozenset()
) -> None:
    """Keep a browser's push subscription; the same endpoint again replaces the old keys.

    Only a public https push service is kept (``endpoint_problem``); the worker checks it again on sending.
    """
    if len(endpoint) > 1000:
        raise ValidationFailed(_("The subscription is incomplete."), fields=[("endpoint", _("Use https."))])
    problem = await asyncio.to_thread(endpoint_problem, endpoint, allowed_hosts)
    if problem is not None:
        security_event("push_endpoint_refused", user_id=user_id, reason=problem)
        raise ValidationFailed(
            _("A push endpoint must be an https:// address of a public push service."),
            fields=[("endpoint", _("Use https."))],
        )
    if not p256dh or not auth:
        raise ValidationFailed(
            _("The subscription is incomplete."), fields=[("keys", _("p256dh and auth are needed."))]
        )
    async with atomic():
        await PushSubscription.delete().where(PushSubscription.endpoint == endpoint)
        await PushSubscription(user=user_id, endpoint=endpoint, keys={"p256dh": p256dh, "auth": auth}).save()


async def clock_wait(*, actor: Actor, number: str, waiting: bool, now: datetime) -> StageDeadline:
    """Pause our running clock while we wait on another party, or restart it: the wait moves the due time."""
    async with atomic():
        case = await Case.objects().where(Case.number == number).first()
        if case is None:
            raise NotFound(_("There is no case %(number)s.", number=number))
        clock = (
            await StageDeadline.objects()
            .where((StageDeadline.case == case.id) & StageDeadline.finished_at.is_null())
            .order_by(StageDeadline.id, ascending=False)
            .first()
        )
        if clock is None:
            raise Conflict(_("This case has no running clock."))
        if clock.owner_party != "us":
            raise Conflict(_("Only our own clock pauses while we wait on another party."))
        paused = await _paused_since(case.id, clock)
        if waiting == (paused is not None):
            raise Conflict(_("The clock is already paused.") if waiting else _("The clock is not paused."))
        if waiting:
            clock.next_check_at = None  # no reminders while the other party has the ball
            await clock.save([StageDeadline.next_check_at])
            await record_event(case_id=case.id, actor=actor, kind="clock_paused", data={"node": clock.node}, at=now)
            return clock
        assert paused is not None
        waited = now - paused
        clock.due_at = clock.due_at + waited
        clock.paused_seconds = clock.paused_seconds + int(waited.total_seconds())
        clock.next_check_at = next_check(current_policy(), clock.started_at, clock.due_at, now - timedelta(seconds=1))
        await clock.save([StageDeadline.due_at, StageDeadline.paused_seconds, StageDeadline.next_check_at])
        await record_event(
            case_id=case.id,
            actor=actor,
            kind="clock_resumed",
            data={"node": clock.node, "paused_seconds": int(waited.total_seconds())},
            at=now,
        )
        return clock


async def _paused_since(case_id: int, clock: StageDeadline) -> datetime | None:
    """When the running clock was paused, if it is paused now (the timeline is the record)."""
    last = (
        await CaseEvent.select(CaseEvent.kind, CaseEvent.at)
        .where(
            (CaseEvent.case == case_id)
            & CaseEvent.kind.is_in(["clock_paused", "clock_resumed"])
            & (CaseEvent.at >= clock.started_at)
        )
        .order_by(CaseEvent.id, ascending=False)
        .first()
    )
    if last is None or last["kind"] != "clock_paused":
        return None
    return last["at"]  # type: ignore[no-any-return]
