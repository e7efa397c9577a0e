"""Reads for node tracking: the board, a case's clocks, failed reminders and the customer's view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.cases import states
from app.cases.tables import Case, CaseEvent
from app.errors import NotFound
from app.i18n import company_zone
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.tracking.tables import Reminder, StageDeadline
from app.trade.tables import Supplier

BOARD_LIMIT = 600


@dataclass(frozen=True)
class BoardFilters:
    mine: bool = False
    overdue: bool = False
    due_today: bool = False
    supplier_id: int | None = None


def time_left_class(started_at: datetime, due_at: datetime, now: datetime) -> str:
    """late past the limit, soon in its last quarter, else ok: the board's colours."""
    if now >= due_at:
        return "late"
    span = (due_at - started_at).total_seconds() or 1
    return "soon" if (due_at - now).total_seconds() / span < 0.25 else "ok"


async def board(filters: BoardFilters, *, user_id: int, zone: str, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Open clocks by node in main-line order, soonest due first."""
    columns: dict[str, list[dict[str, Any]]] = {n.value: [] for n in states.OPEN_NODES}
    for row in await board_query(filters, user_id=user_id, zone=zone, now=now):
        row["state"] = time_left_class(row["started_at"], row["due_at"], now)
        columns.setdefault(row["node"], []).append(row)
    return columns


def board_query(filters: BoardFilters, *, user_id: int, zone: str, now: datetime) -> Any:
    """The board's open clocks, soonest due first: walks the open clocks' due-date index in order
    (``stage_deadline_open_due``) and stops at ``BOARD_LIMIT``."""
    query = (
        StageDeadline.select(
            StageDeadline.id,
            StageDeadline.node,
            StageDeadline.owner_party,
            StageDeadline.started_at,
            StageDeadline.due_at,
            StageDeadline.case.number.as_alias("number"),
            StageDeadline.case.urgency.as_alias("urgency"),
            StageDeadline.case.problem_type.as_alias("problem_type"),
            StageDeadline.case.assignee.name.as_alias("assignee_name"),  # type: ignore[union-attr]
            StageDeadline.case.supplier.name.as_alias("supplier_name"),  # type: ignore[union-attr]
        )
        .where(StageDeadline.finished_at.is_null())
        .order_by(StageDeadline.due_at)
        .limit(BOARD_LIMIT)
    )
    if filters.mine:
        query = query.where(StageDeadline.case.assignee == user_id)
    if filters.overdue:
        query = query.where(StageDeadline.due_at < now)
    if filters.due_today:
        local = now.astimezone(ZoneInfo(zone))
        end = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), ZoneInfo(zone))
        query = query.where(StageDeadline.due_at < end)
    if filters.supplier_id:
        query = query.where(StageDeadline.case.supplier == filters.supplier_id)
    return query


async def suppliers() -> list[dict[str, Any]]:
    return list(await Supplier.select(Supplier.id, Supplier.name).order_by(Supplier.name))


async def case_clocks(number: str) -> tuple[Case, list[dict[str, Any]]]:
    """Each node visit of a case: start, due, finish and who held the clock."""
    case = await Case.objects().where(Case.number == number).first()
    if case is None:
        raise NotFound(_("There is no case %(number)s.", number=number))
    rows = await StageDeadline.select().where(StageDeadline.case == case.id).order_by(StageDeadline.id)
    return case, list(rows)


async def clock_paused(case_id: int) -> bool:
    last = (
        await CaseEvent.select(CaseEvent.kind)
        .where((CaseEvent.case == case_id) & CaseEvent.kind.is_in(["clock_paused", "clock_resumed", "node_changed"]))
        .order_by(CaseEvent.id, ascending=False)
        .first()
    )
    return bool(last and last["kind"] == "clock_paused")


async def reminders_of(case_id: int) -> list[dict[str, Any]]:
    return list(await Reminder.select().where(Reminder.case == case_id).order_by(Reminder.id))


async def failed_reminders(limit: int = 100) -> list[dict[str, Any]]:
    return list(
        await Reminder.select(
            Reminder.id,
            Reminder.case.number.as_alias("number"),
            Reminder.node,
            Reminder.level,
            Reminder.channel,
            Reminder.recipient,
            Reminder.attempts,
            Reminder.error,
            Reminder.claimed_at,
        )
        .where(Reminder.status == "failed")
        .order_by(Reminder.id, ascending=False)
        .limit(limit)
    )


# The steps as a customer reads them: what is happening to their problem, not our process's names.
CUSTOMER_STEPS: dict[str, Any] = {
    "reported": _l("We received your report"),
    "responsibility": _l("We find out what went wrong"),
    "plan": _l("We agree a solution"),
    "implementation": _l("We put it right"),
    "completed": _l("Done"),
    "feedback": _l("Your opinion"),
    "closed": _l("Closed"),
    "disputed": _l("Under review"),
    "cancelled": _l("Cancelled"),
}


async def customer_view(case_id: int) -> dict[str, Any]:
    """What the customer may see: number, node, progress dates, nothing internal."""
    case = (
        await Case.select(
            Case.number, Case.node, Case.created_at, Case.closed_at, Case.customer.time_zone.as_alias("time_zone")
        )
        .where(Case.id == case_id)
        .first()
    )
    if case is None:
        raise NotFound(_("This link is not valid."))
    reached = await StageDeadline.select(StageDeadline.node, StageDeadline.started_at).where(
        StageDeadline.case == case_id
    )
    feedback = await CaseEvent.select(CaseEvent.data).where(
        (CaseEvent.case == case_id) & (CaseEvent.kind == "customer_feedback")
    )
    return {
        "number": case["number"],
        "node": case["node"],
        "created_at": case["created_at"],
        "closed_at": case["closed_at"],
        "time_zone": case["time_zone"] or company_zone(),
        "started": {r["node"]: r["started_at"] for r in reached},
        "feedback_given": bool(feedback),
    }
