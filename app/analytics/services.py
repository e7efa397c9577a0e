"""Writes for analytics: corrective actions and the check of their effect, and money recovered."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from babel.numbers import list_currencies

from app import db
from app.analytics.actions import after_window, before_window, scope_rate
from app.analytics.rates import Rate
from app.analytics.tables import CorrectiveAction, Recovery
from app.analytics.taxonomy import RECOVERY_KINDS, RECOVERY_PARTIES, ROOT_CAUSES
from app.cases.events import Actor, record_event
from app.cases.tables import Case
from app.errors import NotFound, ValidationFailed
from app.i18n import gettext as _


def action_scope(action: CorrectiveAction) -> dict[str, Any]:
    return {"supplier_id": action.supplier, "product_id": action.product, "carrier_id": action.carrier}


async def corrective_action_create(
    *,
    root_cause: str,
    action: str,
    supplier_id: int | None = None,
    product_id: int | None = None,
    carrier_id: int | None = None,
    owner_id: int | None = None,
    due_on: date | None = None,
    check_after_days: int = 90,
    started_on: date | None = None,
    today: date,
) -> CorrectiveAction:
    """Record the action with the baseline rate of its scope over the same span before it starts."""
    fields: list[tuple[str, str]] = []
    if root_cause not in ROOT_CAUSES:
        fields.append(("root_cause", _("Choose a root cause from the list.")))
    if not action.strip():
        fields.append(("action", _("Say what will be done.")))
    if supplier_id is None and product_id is None and carrier_id is None:
        fields.append(("supplier", _("Choose the supplier, product or carrier the action is for.")))
    if not 7 <= check_after_days <= 730:
        fields.append(("check_after_days", _("Check the effect after 7 to 730 days.")))
    if fields:
        raise ValidationFailed(_("The corrective action is not complete."), fields=fields)
    started_on = started_on or today
    scope = {"supplier_id": supplier_id, "product_id": product_id, "carrier_id": carrier_id}
    baseline = await scope_rate(scope, before_window(started_on, check_after_days))
    async with db.atomic():
        row = CorrectiveAction(
            supplier=supplier_id,
            product=product_id,
            carrier=carrier_id,
            root_cause=root_cause,
            action=action.strip()[:2000],
            owner=owner_id,
            due_on=due_on,
            status="open",
            started_on=started_on,
            baseline_rate=baseline.value,
            check_after_days=float(check_after_days),
            verdict="pending",
        )
        await row.save()
    return row


def verdict_for(baseline: float | None, after: Rate) -> str:
    """Effective only when the whole interval after the action lies below the baseline rate."""
    if after.units == 0 or baseline is None:
        return "no_data"
    return "effective" if after.below(baseline) else "not_effective"


async def effect_check(*, action_id: int, today: date) -> CorrectiveAction:
    """Measure the rate after the action once its period is over; before that it stays pending."""
    action = await CorrectiveAction.objects().where(CorrectiveAction.id == action_id).first()
    if action is None:
        raise NotFound(_("There is no corrective action %(number)s.", number=action_id))
    days = int(action.check_after_days)
    started = action.started_on or action.created_at.date()
    window = after_window(started, days)
    if today <= window[1]:
        return action
    after = await scope_rate(action_scope(action), window)
    verdict = verdict_for(action.baseline_rate, after)
    async with db.atomic():
        await CorrectiveAction.update(
            {CorrectiveAction.effect_rate: after.value, CorrectiveAction.verdict: verdict}
        ).where(CorrectiveAction.id == action.id)
    action.effect_rate, action.verdict = after.value, verdict
    return action


async def effect_check_due(*, today: date) -> dict[str, int]:
    """Every action whose period has ended and that has no verdict yet; safe to run twice."""
    pending = await CorrectiveAction.select(CorrectiveAction.id).where(CorrectiveAction.verdict == "pending")
    verdicts: dict[str, int] = {}
    for row in pending:
        checked = await effect_check(action_id=row["id"], today=today)
        verdicts[checked.verdict] = verdicts.get(checked.verdict, 0) + 1
    return verdicts


AMOUNT = re.compile(r"\d{1,12}(\.\d{1,2})?")


def _amount(text: str, field: str, fields: list[tuple[str, str]], *, required: bool) -> Decimal:
    """A money amount as typed: digits with at most two decimals; spaces and thousands commas are allowed."""
    cleaned = text.strip().replace(" ", "").replace(",", "")
    if not cleaned and not required:
        return Decimal("0")
    if not AMOUNT.fullmatch(cleaned):
        fields.append((field, _("Enter an amount like 1250.50: digits, at most two decimals, no sign.")))
        return Decimal("0")
    return Decimal(cleaned)


def _day(text: str, field: str, fields: list[tuple[str, str]], today: date) -> date | None:
    if not text.strip():
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        fields.append((field, _("Use a date like 2026-05-31.")))
        return None
    if day > today:
        fields.append((field, _("The date cannot be in the future.")))
    return day


async def recovery_record(
    *,
    actor: Actor,
    number: str,
    party: str,
    kind: str,
    claimed: str,
    recovered: str = "",
    currency: str,
    claimed_on: str = "",
    recovered_on: str = "",
    today: date,
    now: datetime | None = None,
) -> Recovery:
    """Money claimed back on a case from one party, and what has come back so far, on the case's timeline."""
    fields: list[tuple[str, str]] = []
    if party not in RECOVERY_PARTIES:
        fields.append(("party", _("Choose the supplier or the carrier.")))
    if kind not in RECOVERY_KINDS:
        fields.append(("kind", _("Choose refund, credit note or insurer.")))
    claimed_amount = _amount(claimed, "claimed", fields, required=True)
    recovered_amount = _amount(recovered, "recovered", fields, required=False)
    if claimed_amount <= 0 and not any(name == "claimed" for name, _text in fields):
        fields.append(("claimed", _("The amount claimed must be more than zero.")))
    if recovered_amount > claimed_amount > 0:
        fields.append(("recovered", _("The amount recovered cannot exceed the amount claimed.")))
    code = currency.strip().upper()
    if len(code) != 3 or code not in list_currencies():
        fields.append(("currency", _("Use a three-letter ISO currency code such as CNY or EUR.")))
    claimed_day = _day(claimed_on, "claimed_on", fields, today) or today
    recovered_day = _day(recovered_on, "recovered_on", fields, today)
    if recovered_day is not None and recovered_day < claimed_day:
        fields.append(("recovered_on", _("Money cannot come back before it was claimed.")))
    if recovered_amount > 0 and recovered_day is None:
        recovered_day = today
    case = await Case.objects().where(Case.number == number.strip()).first() if number.strip() else None
    if case is None:
        fields.append(("case", _("There is no case with this number.")))
    if fields:
        raise ValidationFailed(_("The claim could not be recorded."), fields=fields)
    assert case is not None
    row = Recovery(
        case=case.id,
        party=party,
        kind=kind,
        claimed_amount=claimed_amount,
        recovered_amount=recovered_amount,
        currency=code,
        claimed_on=claimed_day,
        recovered_on=recovered_day,
    )
    async with db.atomic():
        await row.save()
        await record_event(
            case_id=case.id,
            actor=actor,
            kind="recovery_recorded",
            data={
                "recovery_id": row.id,
                "party": party,
                "kind": kind,
                "claimed": str(claimed_amount),
                "recovered": str(recovered_amount),
                "currency": code,
            },
            at=now or datetime.now(UTC),
        )
    return row
