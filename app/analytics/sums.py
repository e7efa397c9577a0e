"""SQL over the period: WHERE clauses from the filters, and the daily sums (daily.py) as relations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from app import db
from app.analytics import daily
from app.analytics.filters import AnalyticsFilters
from app.cases.tables import Case
from app.trade.tables import Product


class Where:
    """A WHERE clause built with Piccolo's {} placeholders and its arguments, in order."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.args: list[Any] = []

    def add(self, sql: str, *args: Any) -> None:
        self.parts.append(sql)
        self.args.extend(args)

    def sql(self) -> str:
        return " AND ".join(self.parts) if self.parts else "1 = 1"


def case_filters(where: Where, filters: AnalyticsFilters, *, cohort: bool) -> None:
    """Narrow cases; on the delivery cohort the order's supplier, carrier and region count."""
    supplier, carrier, region = (
        ("po.supplier", "po.carrier", "po.region") if cohort else ("c.supplier", "c.carrier", "c.region")
    )
    if filters.supplier_id is not None:
        where.add(f"{supplier} = {{}}", filters.supplier_id)
    if filters.carrier_id is not None:
        where.add(f"{carrier} = {{}}", filters.carrier_id)
    if filters.region:
        where.add(f"{region} = {{}}", filters.region)
    if filters.product_id is not None:
        where.add("c.product = {}", filters.product_id)
    if filters.category:
        where.add("p.category = {}", filters.category)
    if filters.problem_type:
        where.add("c.problem_type = {}", filters.problem_type)


async def raw(sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
    return list(await Case.raw(sql, *args))


def product_join(filters: AnalyticsFilters, dimension: str = "") -> str:
    # The product table only matters for a category; joining it always costs a lookup per case.
    return "LEFT JOIN product p ON p.id = c.product " if filters.category or dimension == "category" else ""


def as_int(value: Any) -> int:
    return int(value or 0)


# --- the daily sums (app/analytics/daily.py) as relations over a period -----------------------------------------


# Set while one read (the summary) runs on sums it has just brought up to date.
_refreshed: ContextVar[bool] = ContextVar("analytics_refreshed", default=False)


async def ensure_fresh() -> None:
    """Days changed since the last read are summed again first, so every figure is exact."""
    if _refreshed.get():
        return
    if await raw("SELECT 1 AS dirty FROM analytics_dirty LIMIT 1", []):
        await daily.refresh()


@asynccontextmanager
async def one_read() -> AsyncIterator[None]:
    """Bring the sums up to date once, then read everything on one connection and one snapshot."""
    if _refreshed.get():
        yield
        return
    await ensure_fresh()
    token = _refreshed.set(True)
    try:
        async with db.current_engine().transaction():
            yield
    finally:
        _refreshed.reset(token)


def narrow(where: Where, filters: AnalyticsFilters, *, problem_type: bool = True) -> None:
    """The dashboard's filters on a relation `a` of daily.py columns."""
    if filters.supplier_id is not None:
        where.add("a.supplier = {}", filters.supplier_id)
    if filters.carrier_id is not None:
        where.add("a.carrier = {}", filters.carrier_id)
    if filters.region:
        where.add("a.region = {}", filters.region)
    if filters.product_id is not None:
        where.add("a.product = {}", filters.product_id)
    if filters.category:
        where.add("a.product IN (SELECT id FROM product WHERE category = {})", filters.category)
    if problem_type and filters.problem_type:
        where.add("a.problem_type = {}", filters.problem_type)


def fact_relation(fact: str, filters: AnalyticsFilters, where: Where) -> tuple[str, list[Any]]:
    """`fact` over the period as relation `a` (stored sums, or its source when the sums are too coarse)."""
    sql = daily.Dialect()
    narrow(where, filters)
    if not daily.FACTS[fact].by_product and (filters.product_id is not None or filters.category):
        text, args = daily.source(fact, filters.start, filters.end, sql)
    else:
        text, args = daily.stored(fact, filters.start, filters.end)
    return f"({text}) a", args


def cohort_relation(filters: AnalyticsFilters, where: Where) -> tuple[str, list[Any]]:
    """Units delivered and cases on them, by delivery day; a problem type narrows the cases, not the units."""
    narrow(where, filters, problem_type=False)
    keys = "day, supplier, carrier, region, product"
    if not filters.problem_type:
        text, args = daily.stored("cohort", filters.start, filters.end, columns=f"{keys}, units, affected, n")
        return f"({text}) a", args
    units, unit_args = daily.stored(
        "cohort", filters.start, filters.end, columns=f"{keys}, units, 0 AS affected, 0 AS n"
    )
    cases, case_args = daily.stored(
        "cohort_pt",
        filters.start,
        filters.end,
        columns=f"{keys}, 0 AS units, affected, n",
        extra=" AND problem_type = {}",
        args=[filters.problem_type],
    )
    return f"({units} UNION ALL {cases}) a", [*unit_args, *case_args]


def group_by(dimension: str, key: str) -> str:
    # PostgreSQL refuses to group by a constant: the overall figure is one ungrouped row.
    return "" if dimension == "all" else f" GROUP BY {key}"


async def reported(filters: AnalyticsFilters, select: str, tail: str = "") -> list[dict[str, Any]]:
    await ensure_fresh()
    where = Where()
    relation, args = fact_relation("created", filters, where)
    return await raw(f"SELECT {select} FROM {relation} WHERE {where.sql()}{tail}", [*args, *where.args])


async def display_names(table: Any, ids: list[Any]) -> dict[int, str]:
    wanted = [int(i) for i in ids if i is not None]
    if not wanted:
        return {}
    label = table.sku if table is Product else table.name
    rows = await table.select(table.id, label.as_alias("label"), table.name.as_alias("full")).where(
        table.id.is_in(wanted)
    )
    if table is Product:
        return {row["id"]: f"{row['label']} {row['full']}" for row in rows}
    return {row["id"]: row["label"] for row in rows}
