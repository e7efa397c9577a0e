"""Root causes for many cases at once: the cases still without one grouped by supplier and problem type,
and one write that sets a cause (and links a corrective action) for ticked cases or a whole group."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from piccolo.query.functions.aggregate import Count

from app import db
from app.analytics.filters import AnalyticsFilters
from app.analytics.services import corrective_action_create
from app.analytics.tables import CorrectiveAction, CorrectiveActionCase
from app.analytics.taxonomy import ROOT_CAUSES
from app.cases.events import Actor, lock_cases, record_events
from app.cases.states import Node
from app.cases.tables import Case
from app.errors import Conflict, NotFound, ValidationFailed
from app.i18n import gettext as _
from app.trade.tables import Supplier

# One request sets at most this many: a month of one supplier's cases of one kind fits many times over.
MAX_BULK_ROOT_CAUSES = 2000
CHUNK = 500
NEW_ACTION = "new"
# Row ids are 32-bit integers on PostgreSQL: a larger number names no case (and would fail the query).
LARGEST_ID = 2**31 - 1


@dataclass
class CausesSet:
    """What one bulk setting did to each case asked for: every case ends in exactly one of the lists."""

    root_cause: str
    action_id: int | None = None
    changed: list[str] = field(default_factory=list)  # the cause set (and the action linked, if one was chosen)
    linked: list[str] = field(default_factory=list)  # the cause was already this one; the action linked
    unchanged: list[str] = field(default_factory=list)  # nothing to do: this cause, and the action already linked
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (case number, why)

    @property
    def asked(self) -> int:
        return len(self.changed) + len(self.linked) + len(self.unchanged) + len(self.skipped)


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK)]


async def _action_for(action_id: int | None, root_cause: str) -> CorrectiveAction | None:
    if action_id is None:
        return None
    action = (
        await CorrectiveAction.objects().where(CorrectiveAction.id == action_id).first()
        if 0 < action_id <= LARGEST_ID
        else None
    )
    if action is None:
        raise ValidationFailed(
            _("There is no corrective action %(number)s.", number=action_id),
            fields=[("action", _("Choose an action from the list."))],
        )
    if action.root_cause != root_cause:
        cause = str(ROOT_CAUSES.get(action.root_cause, action.root_cause))
        raise ValidationFailed(
            _("Corrective action %(number)s answers another root cause (%(cause)s).", number=action.id, cause=cause),
            fields=[("action", _("Choose an action for the root cause you set, or none."))],
        )
    return action


def _outside_scope(action: CorrectiveAction, row: dict[str, Any]) -> str:
    """Why the action does not cover the case ('' when it does): its supplier, product or carrier differs."""
    for column, why in (
        ("supplier", _("the corrective action is for another supplier")),
        ("product", _("the corrective action is for another product")),
        ("carrier", _("the corrective action is for another carrier")),
    ):
        wanted = getattr(action, column)
        if wanted is not None and row[column] != wanted:
            return why
    return ""


async def root_causes_set(
    *,
    actor: Actor,
    case_ids: list[int],
    root_cause: str,
    action_id: int | None = None,
    keep_other_causes: bool = False,
    now: datetime | None = None,
) -> CausesSet:
    """Set one root cause on each case asked for, and link the corrective action when one is chosen.

    Each case is locked, read and changed in one transaction, with a `root_cause_set` (or, when only the
    action is new to it, a `corrective_action_linked`) event on its timeline. A case that cannot take the
    cause is skipped with the reason: a cancelled case, a case the action does not cover, and with
    `keep_other_causes` (a group's control, meant for cases without a cause) one given another cause since.
    """
    problems: list[tuple[str, str]] = []
    ids = list(dict.fromkeys(case_ids))
    if not ids:
        problems.append(("case", _("Tick the cases to set the root cause for.")))
    if len(ids) > MAX_BULK_ROOT_CAUSES:
        most = _("Set the root cause for at most %(count)s cases at once.", count=MAX_BULK_ROOT_CAUSES)
        problems.append(("case", most))
    if root_cause not in ROOT_CAUSES:
        problems.append(("root_cause", _("Choose a root cause from the list.")))
    if problems:
        raise ValidationFailed(_("The root cause cannot be set as filled in."), fields=problems)
    action = await _action_for(action_id, root_cause)
    now = now or datetime.now(UTC)
    result = CausesSet(root_cause=root_cause, action_id=action.id if action else None)
    possible = [case_id for case_id in ids if 0 < case_id <= LARGEST_ID]
    async with db.atomic():
        await lock_cases(possible)
        rows: list[dict[str, Any]] = []
        linked_before: set[int] = set()
        for chunk in _chunks(possible):
            rows += await Case.select(
                Case.id, Case.number, Case.node, Case.root_cause, Case.supplier, Case.product, Case.carrier
            ).where(Case.id.is_in(chunk))
            if action is not None:
                linked_before |= {
                    row["case"]
                    for row in await CorrectiveActionCase.select(CorrectiveActionCase.case).where(
                        CorrectiveActionCase.action == action.id, CorrectiveActionCase.case.is_in(chunk)
                    )
                }
        found = {row["id"] for row in rows}
        result.skipped += [(f"#{case_id}", _("there is no such case")) for case_id in ids if case_id not in found]
        to_change: list[int] = []
        links: list[CorrectiveActionCase] = []
        entries: list[tuple[int, str, dict[str, Any]]] = []
        for row in sorted(rows, key=lambda row: row["number"]):
            number, current = row["number"], row["root_cause"] or ""
            if row["node"] == Node.CANCELLED.value:
                result.skipped.append((number, _("the case was cancelled")))
                continue
            if keep_other_causes and current and current != root_cause:
                cause = str(ROOT_CAUSES.get(current, current))
                result.skipped.append((number, _("its root cause was set to %(cause)s meanwhile", cause=cause)))
                continue
            outside = _outside_scope(action, row) if action is not None else ""
            if outside:
                result.skipped.append((number, outside))
                continue
            link = action is not None and row["id"] not in linked_before
            if link:
                links.append(CorrectiveActionCase(action=result.action_id, case=row["id"], linked_at=now))
            with_action = {"corrective_action": result.action_id} if link else {}
            if current != root_cause:
                to_change.append(row["id"])
                entries.append((row["id"], "root_cause_set", {"from": current, "to": root_cause, **with_action}))
                result.changed.append(number)
            elif link:
                entries.append((row["id"], "corrective_action_linked", {"root_cause": root_cause, **with_action}))
                result.linked.append(number)
            else:
                result.unchanged.append(number)
        for chunk in _chunks(to_change):
            await Case.update({Case.root_cause: root_cause, Case.updated_at: now}).where(Case.id.is_in(chunk))
        for start in range(0, len(links), CHUNK):
            await CorrectiveActionCase.insert(*links[start : start + CHUNK])
        if entries:
            await record_events(entries, actor=actor, at=now)
    return result


async def case_root_cause_set(*, actor: Actor, number: str, root_cause: str, now: datetime | None = None) -> str:
    """One case's control on the root-cause page: the same write for a single case."""
    if root_cause not in ROOT_CAUSES:
        raise ValidationFailed(_("Choose a root cause from the list."), fields=[("root_cause", _("Not in the list."))])
    found = await Case.select(Case.id).where(Case.number == number).first()
    if found is None:
        raise NotFound(_("There is no case %(number)s.", number=number))
    result = await root_causes_set(actor=actor, case_ids=[found["id"]], root_cause=root_cause, now=now)
    for _number, why in result.skipped:
        raise Conflict(_("The root cause of %(number)s cannot be set: %(why)s.", number=number, why=why))
    return root_cause


def _scope(filters: AnalyticsFilters) -> list[Any]:
    """Cases reported in the period and the page's filters that still have no root cause (cancelled ones aside)."""
    where: list[Any] = [
        Case.root_cause == "",
        Case.node != Node.CANCELLED.value,
        Case.created_at >= datetime.combine(filters.start, time(0), UTC),
        Case.created_at < datetime.combine(filters.end + timedelta(days=1), time(0), UTC),
    ]
    for column, value in (
        (Case.supplier, filters.supplier_id),
        (Case.carrier, filters.carrier_id),
        (Case.product, filters.product_id),
        (Case.problem_type, filters.problem_type or None),
    ):
        if value is not None:
            where.append(column == value)
    return where


async def cause_groups(filters: AnalyticsFilters) -> list[dict[str, Any]]:
    """The cases without a root cause by supplier × problem type, largest group first, with the corrective
    actions recorded for that supplier (to link from the group's control)."""
    counts = (
        await Case.select(Case.supplier, Case.problem_type, Count(alias="cases"))
        .where(*_scope(filters))
        .group_by(Case.supplier, Case.problem_type)
    )
    supplier_ids = sorted({row["supplier"] for row in counts if row["supplier"] is not None})
    names: dict[int, str] = {}
    actions: dict[int, list[dict[str, Any]]] = {}
    if supplier_ids:
        for row in await Supplier.select(Supplier.id, Supplier.name).where(Supplier.id.is_in(supplier_ids)):
            names[row["id"]] = row["name"]
        for row in (
            await CorrectiveAction.select(
                CorrectiveAction.id, CorrectiveAction.supplier, CorrectiveAction.root_cause, CorrectiveAction.action
            )
            .where(CorrectiveAction.supplier.is_in(supplier_ids), CorrectiveAction.status.not_in(["done", "cancelled"]))
            .order_by(CorrectiveAction.id, ascending=False)
        ):
            actions.setdefault(row["supplier"], []).append(row)
    groups = [
        {
            "supplier_id": row["supplier"],
            "supplier_name": names.get(row["supplier"], "") if row["supplier"] is not None else "",
            "problem_type": row["problem_type"],
            "cases": int(row["cases"]),
            "actions": actions.get(row["supplier"], []) if row["supplier"] is not None else [],
        }
        for row in counts
    ]
    groups.sort(key=lambda group: (-group["cases"], group["supplier_name"], group["problem_type"]))
    return groups


async def group_case_ids(filters: AnalyticsFilters, *, supplier_id: int | None, problem_type: str) -> list[int]:
    supplier = Case.supplier.is_null() if supplier_id is None else Case.supplier == supplier_id
    rows = await (
        Case.select(Case.id)
        .where(*_scope(filters), supplier, Case.problem_type == problem_type)
        .order_by(Case.id)
        .limit(MAX_BULK_ROOT_CAUSES + 1)
    )
    return [row["id"] for row in rows]


async def group_root_cause_set(
    *,
    actor: Actor,
    filters: AnalyticsFilters,
    supplier_id: int | None,
    problem_type: str,
    root_cause: str,
    action: str,
    new_action: str,
    owner_id: int | None,
    today: date,
    now: datetime | None = None,
) -> CausesSet:
    """One group's control: the cause for all of the group's cases still without one, and the corrective
    action chosen for them (an existing one of the supplier's, or a new one recorded for the supplier)."""
    problems: list[tuple[str, str]] = []
    if root_cause not in ROOT_CAUSES:
        problems.append(("root_cause", _("Choose a root cause from the list.")))
    if action not in ("", NEW_ACTION) and not action.isdecimal():
        problems.append(("action", _("Choose an action from the list.")))
    if action == NEW_ACTION and not new_action.strip():
        problems.append(("new_action", _("Say what will be done.")))
    if action == NEW_ACTION and supplier_id is None:
        problems.append(
            ("action", _("These cases have no supplier: record the action for their carrier or product below."))
        )
    if problems:
        raise ValidationFailed(_("The root cause cannot be set as filled in."), fields=problems)
    ids = await group_case_ids(filters, supplier_id=supplier_id, problem_type=problem_type)
    if not ids:
        raise ValidationFailed(
            _("No case in this group is without a root cause any more."), fields=[("case", _("Reload the page."))]
        )
    if len(ids) > MAX_BULK_ROOT_CAUSES:
        raise ValidationFailed(
            _("This group holds more than %(count)s cases: choose a shorter period.", count=MAX_BULK_ROOT_CAUSES),
            fields=[("from", _("Choose a shorter period."))],
        )
    action_id = int(action) if action.isdecimal() else None
    await _action_for(action_id, root_cause)  # refused before a new action is recorded or any case changes
    if action == NEW_ACTION:
        created = await corrective_action_create(
            root_cause=root_cause, action=new_action, supplier_id=supplier_id, owner_id=owner_id, today=today
        )
        action_id = created.id
    return await root_causes_set(
        actor=actor, case_ids=ids, root_cause=root_cause, action_id=action_id, keep_other_causes=True, now=now
    )
