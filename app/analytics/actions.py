"""Corrective actions with the rate before and after each, and root causes by problem type."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from piccolo.query.functions.aggregate import Count

from app.analytics.figures import overall_rate
from app.analytics.filters import AnalyticsFilters
from app.analytics.rates import wilson
from app.analytics.sums import as_int, reported


def before_window(started_on: date, days: int) -> tuple[date, date]:
    """The same number of days just before the action started: the baseline."""
    return started_on - timedelta(days=days), started_on - timedelta(days=1)


def after_window(started_on: date, days: int) -> tuple[date, date]:
    return started_on, started_on + timedelta(days=days - 1)


async def scope_rate(scope: dict[str, Any], window: tuple[date, date]) -> Any:
    row = await overall_rate(AnalyticsFilters(start=window[0], end=window[1], **scope))
    return wilson(row["affected"], row["units"])


async def action_list(*, limit: int = 100) -> list[dict[str, Any]]:
    """Corrective actions, newest first, with the rate before and after, both intervals and the cases linked."""
    from app.analytics.tables import CorrectiveAction, CorrectiveActionCase

    rows = (
        await CorrectiveAction.select(
            *CorrectiveAction.all_columns(),
            CorrectiveAction.supplier.name.as_alias("supplier_name"),
            CorrectiveAction.carrier.name.as_alias("carrier_name"),
            CorrectiveAction.product.sku.as_alias("product_sku"),
            CorrectiveAction.owner.name.as_alias("owner_name"),
        )
        .order_by(CorrectiveAction.id, ascending=False)
        .limit(limit)
    )
    linked = {
        row["action"]: int(row["cases"])
        for row in await CorrectiveActionCase.select(CorrectiveActionCase.action, Count(alias="cases"))
        .where(CorrectiveActionCase.action.is_in([row["id"] for row in rows] or [0]))
        .group_by(CorrectiveActionCase.action)
    }
    for row in rows:
        row["linked_cases"] = linked.get(row["id"], 0)
        scope = {"supplier_id": row["supplier"], "product_id": row["product"], "carrier_id": row["carrier"]}
        started = row["started_on"] or row["created_at"].date()
        days = int(row["check_after_days"])
        row["before"] = (await scope_rate(scope, before_window(started, days))).as_dict()
        row["after_window"] = after_window(started, days)
        row["after"] = (await scope_rate(scope, row["after_window"])).as_dict()
        row["scope"] = " · ".join(
            name for name in (row["supplier_name"], row["product_sku"], row["carrier_name"]) if name
        )
    return rows


async def root_cause_matrix(filters: AnalyticsFilters) -> list[dict[str, Any]]:
    """Cases reported in the period by problem type and recorded root cause ('' = not yet found)."""
    rows = await reported(
        filters,
        "a.problem_type AS problem_type, a.label AS root_cause, SUM(a.n) AS cases",
        " GROUP BY a.problem_type, a.label ORDER BY cases DESC",
    )
    return [{**row, "cases": as_int(row["cases"])} for row in rows]
