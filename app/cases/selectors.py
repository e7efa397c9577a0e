"""Reads for cases: the filtered list, one case with its timeline, and API shapes."""

from __future__ import annotations

import asyncio
import logging
import time as time_module
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.cases import states
from app.cases.states import Node
from app.cases.tables import Case, CaseEvent
from app.errors import NotFound
from app.i18n import gettext as _

PAGE_SIZE = 50

LIST_COLUMNS = (
    Case.id,
    Case.number,
    Case.order_number,
    Case.problem_type,
    Case.node,
    Case.urgency,
    Case.region,
    Case.quantity_affected,
    Case.created_at,
    Case.node_entered_at,
    Case.suggested_party,
    Case.confirmed_party,
    Case.supplier.name.as_alias("supplier_name"),
    Case.carrier.name.as_alias("carrier_name"),
    Case.product.sku.as_alias("product_sku"),
    Case.product.name.as_alias("product_name"),
    Case.assignee.name.as_alias("assignee_name"),
)


# The node filter's value for every case not closed or cancelled (the dashboard's "still open").
OPEN = "open"


@dataclass(frozen=True)
class CaseFilters:
    node: str = ""
    problem_type: str = ""
    query: str = ""
    assignee_id: int | None = None
    before_id: int | None = None  # keyset pagination: newest first, continue below this id
    # The dashboard's links: the cases behind one of its numbers.
    supplier_id: int | None = None
    carrier_id: int | None = None
    product_id: int | None = None
    category: str = ""
    region: str = ""
    created_from: date | None = None
    created_to: date | None = None
    # The rate's cohort: cases on orders delivered in these days, cancelled ones not counted.
    delivered_from: date | None = None
    delivered_to: date | None = None


async def case_list(filters: CaseFilters, *, limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    query = Case.select(*LIST_COLUMNS).order_by(Case.id, ascending=False).limit(limit)
    if filters.node == OPEN:
        query = query.where(Case.node.not_in([node.value for node in states.FINAL]))
    elif filters.node:
        query = query.where(Case.node == filters.node)
    if filters.problem_type:
        query = query.where(Case.problem_type == filters.problem_type)
    if filters.assignee_id is not None:
        query = query.where(Case.assignee == filters.assignee_id)
    if filters.before_id is not None:
        query = query.where(Case.id < filters.before_id)
    query = _dashboard_filters(query, filters)
    if filters.query:
        term = f"%{filters.query.strip()}%"
        query = query.where(Case.number.ilike(term) | Case.order_number.ilike(term) | Case.description.ilike(term))
    return list(await query)


def _dashboard_filters(query: Any, filters: CaseFilters) -> Any:
    for column, value in (
        (Case.supplier, filters.supplier_id),
        (Case.carrier, filters.carrier_id),
        (Case.product, filters.product_id),
        (Case.product.category, filters.category or None),
        (Case.region, filters.region or None),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.created_from is not None:
        query = query.where(Case.created_at >= datetime.combine(filters.created_from, time(0), UTC))
    if filters.created_to is not None:
        query = query.where(Case.created_at < datetime.combine(filters.created_to + timedelta(days=1), time(0), UTC))
    if filters.delivered_from is not None or filters.delivered_to is not None:
        query = query.where(Case.node != "cancelled")
    if filters.delivered_from is not None:
        query = query.where(Case.purchase_order.delivered_on >= filters.delivered_from)
    if filters.delivered_to is not None:
        query = query.where(Case.purchase_order.delivered_on <= filters.delivered_to)
    return query


# The case list's node menu shows how many cases each node holds. Counting reads every case (tens of
# milliseconds at 100,000), so the web process counts at most every few seconds: the numbers may lag
# a change by that long, the list itself never. One count runs at a time; while it runs, readers get
# the last numbers (or, before any, wait for that one count) instead of each starting their own.
NODE_COUNTS_KEEP_SECONDS = 5.0
# Numbers older than this (after a quiet spell) are not shown while the new count runs: it is waited for.
NODE_COUNTS_STALE_SECONDS = 30.0
_node_counts: list[tuple[float, dict[str, int]]] = []
_counting: list[asyncio.Task[dict[str, int]]] = []


async def _count_nodes() -> dict[str, int]:
    rows = await Case.raw("SELECT node, COUNT(*) AS n FROM after_sales_case GROUP BY node")
    counts = {node.value: 0 for node in Node}
    counts.update({row["node"]: int(row["n"]) for row in rows})
    _node_counts[:] = [(time_module.monotonic() + NODE_COUNTS_KEEP_SECONDS, counts)]
    return counts


def _counted(task: asyncio.Task[dict[str, int]]) -> None:
    if not task.cancelled() and (problem := task.exception()) is not None:
        logging.getLogger(__name__).warning("counting cases by node failed: %s", problem)


async def node_counts() -> dict[str, int]:
    kept = _node_counts[0] if _node_counts else None
    if kept is not None and kept[0] > time_module.monotonic():
        return dict(kept[1])
    loop = asyncio.get_running_loop()
    running = _counting[0] if _counting and not _counting[0].done() and _counting[0].get_loop() is loop else None
    if running is None:
        running = loop.create_task(_count_nodes())
        running.add_done_callback(_counted)
        _counting[:] = [running]
    if kept is not None and kept[0] + NODE_COUNTS_STALE_SECONDS > time_module.monotonic():
        return dict(kept[1])
    return dict(await asyncio.shield(running))


def forget_node_counts() -> None:
    _node_counts.clear()
    _counting.clear()


async def case_get(number: str) -> Case:
    case = (
        await Case.objects(Case.supplier, Case.carrier, Case.product, Case.customer, Case.assignee, Case.purchase_order)
        .where(Case.number == number)
        .output(load_json=True)
        .first()
    )
    if case is None:
        raise NotFound(_("There is no case %(number)s.", number=number))
    return case


async def case_events(case_id: int) -> list[CaseEvent]:
    return list(
        await CaseEvent.objects().where(CaseEvent.case == case_id).order_by(CaseEvent.id).output(load_json=True)
    )


# What a reader outside CLAIM_FIGURES does not get: money and our hint, also inside timeline events.
_FIGURE_FIELDS = frozenset({"hint", "claim_amount", "suggested_party"})
_FIGURE_EVENT_DATA = frozenset({"amount", "claim_amount", "confidence", "rule_ids", "basis"})
_FIGURE_EVENTS = frozenset({"hint_changed"})


def _event_without_figures(event: dict[str, Any]) -> dict[str, Any]:
    data = event["data"] if isinstance(event["data"], dict) and event["kind"] not in _FIGURE_EVENTS else {}
    return {**event, "data": {key: value for key, value in data.items() if key not in _FIGURE_EVENT_DATA}}


def without_claim_figures(document: dict[str, Any]) -> dict[str, Any]:
    """An API document (a case or a list row) with money and the hint left out."""
    kept = {key: value for key, value in document.items() if key not in _FIGURE_FIELDS}
    if "events" in kept:
        kept["events"] = [_event_without_figures(event) for event in kept["events"]]
    return kept


def case_summary(row: dict[str, Any]) -> dict[str, Any]:
    """The API's list shape of a case row."""
    return {
        "number": row["number"],
        "order_number": row["order_number"],
        "problem_type": row["problem_type"],
        "node": row["node"],
        "urgency": row["urgency"],
        "region": row["region"],
        "quantity_affected": row["quantity_affected"],
        "supplier": row["supplier_name"],
        "carrier": row["carrier_name"],
        "product_sku": row["product_sku"],
        "assignee": row["assignee_name"],
        "suggested_party": row["suggested_party"] or None,
        "confirmed_party": row["confirmed_party"] or None,
        "created_at": row["created_at"].isoformat(),
    }


def case_document(case: Case, events: list[CaseEvent], evidence: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The API's detail shape of one case with its timeline and evidence files."""

    def name(related: Any, attribute: str) -> Any:
        return getattr(related, attribute, None) if related is not None and related.id else None

    return {
        "number": case.number,
        "order_number": case.order_number,
        "problem_type": case.problem_type,
        "description": case.description,
        "node": case.node,
        "urgency": case.urgency,
        "expected_days": case.expected_days,
        "region": case.region,
        "quantity_affected": case.quantity_affected,
        "supplier": name(case.supplier, "name"),
        "carrier": name(case.carrier, "name"),
        "product": {"sku": name(case.product, "sku"), "name": name(case.product, "name")},
        "customer": name(case.customer, "name"),
        "assignee": name(case.assignee, "name"),
        "facts": case.facts,
        "hint": case.hint or None,
        "confirmed_party": case.confirmed_party or None,
        "claim_amount": str(case.claim_amount) if case.claim_amount is not None else None,
        "currency": case.currency,
        "created_at": case.created_at.isoformat(),
        "evidence": evidence or [],
        "events": [
            {
                "at": event.at.isoformat(),
                "kind": event.kind,
                "actor": {"kind": event.actor_kind, "label": event.actor_label},
                "data": event.data,
            }
            for event in events
        ],
    }


# Reports of one problem on one order within this long are probably the same problem reported twice.
ALIKE_WINDOW = timedelta(hours=24)


async def recent_alike(*, order_number: str, problem_type: str, now: datetime) -> list[dict[str, Any]]:
    """Open cases on the same order with the same problem, reported within ALIKE_WINDOW, newest first."""
    order_number = order_number.strip()
    if not order_number or not problem_type:
        return []
    return list(
        await Case.select(Case.id, Case.number, Case.created_at, Case.quantity_affected, Case.description)
        .where(
            (Case.order_number == order_number)
            & (Case.problem_type == problem_type)
            & (Case.created_at >= now - ALIKE_WINDOW)
            & Case.node.not_in([node.value for node in states.FINAL])
        )
        .order_by(Case.id, ascending=False)
        .limit(5)
    )
