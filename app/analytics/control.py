"""Process control: each supplier's monthly rate against its own p-chart limits.

A supplier drifts when its latest month with deliveries lies above the upper limit set by its own earlier
months (p̄ + 3·√(p̄(1−p̄)/n) for that month's n units) — often before its rate over the whole period is
significantly above everyone else's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from app.analytics import daily
from app.analytics.filters import AnalyticsFilters
from app.analytics.sums import Where, as_int, cohort_relation, display_names, ensure_fresh, raw
from app.trade.tables import Supplier

MONTHS = 12
MIN_BASELINE_MONTHS = 3


@dataclass(frozen=True)
class Month:
    month: str
    affected: int
    units: int

    @property
    def rate(self) -> float | None:
        return self.affected / self.units if self.units else None


def limits(centre: float, units: int) -> tuple[float, float]:
    """The 3-sigma p-chart limits for a month of `units` around the rate `centre`."""
    spread = 3 * math.sqrt(centre * (1 - centre) / units) if units else 0.0
    return max(0.0, centre - spread), min(1.0, centre + spread)


def judge(months: list[Month]) -> dict[str, Any] | None:
    """The latest month against the limits of the months before it; None without enough history."""
    delivered = [month for month in months if month.units]
    if len(delivered) <= MIN_BASELINE_MONTHS:
        return None
    *before, latest = delivered
    units = sum(month.units for month in before)
    centre = sum(month.affected for month in before) / units
    low, high = limits(centre, latest.units)
    series = [
        {"month": month.month, "rate": month.rate, "upper": limits(centre, month.units)[1]} for month in delivered
    ]
    return {
        "series": series,
        "month": latest.month,
        "rate": latest.rate,
        "units": latest.units,
        "centre": centre,
        "lower": low,
        "upper": high,
        "baseline_months": len(before),
        "drifting": latest.rate is not None and latest.rate > high,
    }


def window(end: date) -> tuple[date, date]:
    """The twelve calendar months up to the one holding `end`."""
    first = end.replace(day=1)
    for _step in range(MONTHS - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return first, end


async def supplier_drift(filters: AnalyticsFilters) -> list[dict[str, Any]]:
    """Every supplier with enough history, drifting ones first, each judged on its own p-chart."""
    await ensure_fresh()
    start, end = window(filters.end)
    scope = replace(filters, start=start, end=end)
    month = daily.Dialect().month_of_date("a.day")
    where = Where()
    relation, args = cohort_relation(scope, where)
    join = " LEFT JOIN product p ON p.id = a.product" if scope.category else ""
    rows = await raw(
        f"SELECT a.supplier AS k, {month} AS m, SUM(a.units) AS units, SUM(a.affected) AS affected "
        f"FROM {relation}{join} WHERE {where.sql()} GROUP BY a.supplier, {month}",
        [*args, *where.args],
    )
    by_supplier: dict[Any, dict[str, Month]] = {}
    for row in rows:
        if row["k"] is not None:
            by_supplier.setdefault(row["k"], {})[row["m"]] = Month(
                row["m"], as_int(row["affected"]), as_int(row["units"])
            )
    names = await display_names(Supplier, list(by_supplier))
    judged = []
    for key, months in by_supplier.items():
        verdict = judge([months[name] for name in sorted(months)])
        if verdict is not None:
            judged.append({"key": key, "name": names.get(key, str(key)), **verdict})
    judged.sort(key=lambda row: (not row["drifting"], str(row["name"])))
    return judged
