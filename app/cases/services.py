"""Writes for cases: numbering, creation with idempotency keys, and node moves."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from app.cases import states
from app.cases.events import Actor, lock_case, record_event
from app.cases.hooks import node_entered
from app.cases.tables import Case, CaseNumberCounter
from app.cases.taxonomy import PROBLEM_TYPES, URGENCIES
from app.db import atomic
from app.errors import Conflict, NotFound, ValidationFailed
from app.i18n import gettext as _
from app.i18n import label

MAX_DESCRIPTION = 5000


@dataclass(frozen=True)
class CaseDraft:
    """What a report says about a case; validated before anything is written."""

    problem_type: str
    description: str = ""
    order_number: str = ""
    quantity_affected: int = 1
    region: str = ""
    urgency: str = "normal"
    purchase_order_id: int | None = None
    order_line_id: int | None = None
    product_id: int | None = None
    supplier_id: int | None = None
    carrier_id: int | None = None
    customer_id: int | None = None
    assignee_id: int | None = None
    claim_amount: Decimal | None = None
    currency: str = "CNY"
    facts: dict[str, Any] = field(default_factory=dict)

    def problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if self.problem_type not in PROBLEM_TYPES:
            found.append(("problem_type", _("Choose one of: %(choices)s.", choices=", ".join(PROBLEM_TYPES))))
        if self.urgency not in URGENCIES:
            found.append(("urgency", _("Choose one of: %(choices)s.", choices=", ".join(URGENCIES))))
        if not 1 <= self.quantity_affected <= 10_000_000:
            found.append(("quantity_affected", _("Enter how many units are affected (at least 1).")))
        if len(self.description) > MAX_DESCRIPTION:
            found.append(("description", _("Keep the description under %(count)s characters.", count=MAX_DESCRIPTION)))
        if len(self.currency) != 3 or not self.currency.isalpha():
            found.append(("currency", _("Use a three-letter ISO currency code such as CNY or EUR.")))
        return found

    def digest(self) -> str:
        """A fingerprint of the payload, to tell a replay from a different report under the same key."""
        body = json.dumps(asdict(self), sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class CaseCreated:
    case: Case
    created: bool  # False when an earlier request with the same idempotency key made it


def format_number(year: int, sequence: int) -> str:
    return f"AS-{year}-{sequence:06d}"


async def next_case_number(year: int) -> str:
    """The next number of ``year``; call inside a write transaction (the row lock serialises it)."""
    await CaseNumberCounter.raw(
        "INSERT INTO case_number_counter (year, last) VALUES ({}, 0) ON CONFLICT (year) DO NOTHING", year
    )
    rows = await CaseNumberCounter.raw(
        "UPDATE case_number_counter SET last = last + 1 WHERE year = {} RETURNING last", year
    )
    return format_number(year, int(rows[0]["last"]))


async def _existing_for_key(client_key: str, digest: str) -> Case | None:
    existing = await Case.objects().where(Case.client_key == client_key).first()
    if existing is not None and existing.client_digest != digest:
        raise ValidationFailed(
            _("This idempotency key was already used for a different report."),
            fields=[("Idempotency-Key", _("Send a new key for a new report."))],
        )
    return existing


async def case_create(
    *, actor: Actor, draft: CaseDraft, client_key: str | None = None, now: datetime | None = None
) -> CaseCreated:
    """Create a case with a fresh number, or return the one an earlier request with this key made."""
    problems = draft.problems()
    if problems:
        raise ValidationFailed(_("The report is incomplete."), fields=problems)
    now = now or datetime.now(UTC)
    digest = draft.digest()
    if client_key:
        existing = await _existing_for_key(client_key, digest)
        if existing is not None:
            return CaseCreated(existing, created=False)
    try:
        async with atomic():
            if client_key:
                existing = await _existing_for_key(client_key, digest)
                if existing is not None:
                    return CaseCreated(existing, created=False)
            case = Case(
                number=await next_case_number(now.year),
                client_key=client_key or None,
                client_digest=digest if client_key else "",
                order_number=draft.order_number.strip(),
                purchase_order=draft.purchase_order_id,
                order_line=draft.order_line_id,
                product=draft.product_id,
                supplier=draft.supplier_id,
                carrier=draft.carrier_id,
                customer=draft.customer_id,
                assignee=draft.assignee_id,
                reported_by=int(actor.id) if actor.kind == "user" and actor.id else None,
                quantity_affected=draft.quantity_affected,
                problem_type=draft.problem_type,
                description=draft.description.strip(),
                region=draft.region.strip(),
                urgency=draft.urgency,
                claim_amount=draft.claim_amount,
                currency=draft.currency.upper(),
                facts=draft.facts,
                node=states.Node.REPORTED.value,
                node_entered_at=now,
                created_at=now,
                updated_at=now,
            )
            await case.save()
            await record_event(
                case_id=case.id,
                actor=actor,
                kind="case_reported",
                data={"number": case.number, "problem_type": draft.problem_type},
                at=now,
            )
            await node_entered(case=case, node=case.node, at=now, reported=True)
    except Exception as error:
        # Two requests with one key at once: the loser's insert hits the unique key; answer with the winner.
        if client_key and _is_unique_violation(error):
            existing = await _existing_for_key(client_key, digest)
            if existing is not None:
                return CaseCreated(existing, created=False)
        raise
    return CaseCreated(case, created=True)


def _is_unique_violation(error: Exception) -> bool:
    text = f"{type(error).__name__} {error}".lower()
    return "unique" in text


def _transition_refused(error: states.TransitionError) -> str:
    """Why the move is refused, in the reader's language; a node reads as its label, in lower case mid-sentence."""
    values = {
        name: label(value, "node").lower() if isinstance(value, states.Node) else value
        for name, value in error.values.items()
    }
    return _(error.message, **values)


async def case_move(*, actor: Actor, number: str, target: str, reason: str = "", now: datetime | None = None) -> Case:
    """Move a case to another node, if the state machine allows it, and record why."""
    now = now or datetime.now(UTC)
    try:
        target_node = states.parse_node(target)
    except states.TransitionError as error:
        raise Conflict(_transition_refused(error)) from None
    async with atomic():
        found = await Case.select(Case.id).where(Case.number == number).first()
        if found is None:
            raise NotFound(_("There is no case %(number)s.", number=number))
        # Read under the case's lock: two moves at once each start from the node the other left.
        await lock_case(found["id"])
        case = await Case.objects().where(Case.id == found["id"]).first()
        assert case is not None
        source = states.Node(case.node)
        origin = states.Node(case.node_before_dispute) if case.node_before_dispute else None
        transition = states.Transition(source, target_node, reason=reason, dispute_origin=origin)
        try:
            states.check(transition)
        except states.TransitionError as error:
            raise Conflict(_transition_refused(error)) from None
        changes: dict[Any, Any] = {Case.node: target_node.value, Case.node_entered_at: now, Case.updated_at: now}
        if target_node is states.Node.DISPUTED:
            changes[Case.node_before_dispute] = source.value
        elif source is states.Node.DISPUTED:
            changes[Case.node_before_dispute] = ""
        if target_node is states.Node.CANCELLED:
            changes[Case.cancel_reason] = reason.strip()
        if target_node in states.FINAL:
            changes[Case.closed_at] = now
        await Case.update(changes).where(Case.id == case.id)
        await record_event(
            case_id=case.id,
            actor=actor,
            kind="node_changed",
            data={"from": source.value, "to": target_node.value, "reason": reason.strip()},
            at=now,
        )
        await node_entered(case=case, node=target_node.value, at=now)
    moved = await Case.objects().where(Case.id == case.id).first()
    assert moved is not None
    return moved
