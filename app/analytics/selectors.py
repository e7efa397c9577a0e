"""Reads for the dashboard, the API and the monthly report: every figure is one SQL aggregate."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from piccolo.query.functions.aggregate import Count

from app import db
from app.analytics import daily
from app.analytics.calibration import Outcome, calibration
from app.analytics.daily import HINT_KINDS
from app.analytics.rates import wilson
from app.cases.tables import Case
from app.trade.tables import Carrier, Product, Supplier

DIMENSIONS = ("supplier", "product", "category", "carrier", "region")
OPEN_NODES_SQL = "('closed', 'cancelled')"


@dataclass(frozen=True)
class AnalyticsFilters:
    """A period (both days included) and the dashboard's narrowing filters."""

    start: date
    end: date
    supplier_id: int | None = None
    carrier_id: int | None = None
    product_id: int | None = None
    category: str = ""
    region: str = ""
    problem_type: str = ""

    def shifted_month_back(self) -> AnalyticsFilters:
        """The same filters over the previous calendar month (for month-over-month change)."""
        first = self.start.replace(day=1)
        end = first - timedelta(days=1)
        return replace(self, start=end.replace(day=1), end=end)

    def case_link(self, *, cohort: bool = False, **extra: Any) -> dict[str, Any]:
        """Query parameters for the case list that shows the cases behind a number."""
        window = (
            {"delivered_from": self.start.isoformat(), "delivered_to": self.end.isoformat()}
            if cohort
            else {"created_from": self.start.isoformat(), "created_to": self.end.isoformat()}
        )
        params: dict[str, Any] = {
            **window,
            "supplier": self.supplier_id or "",
            "carrier": self.carrier_id or "",
            "product": self.product_id or "",
            "category": self.category,
            "region": self.region,
            "problem_type": self.problem_type,
        }
        params.update(extra)
        return {key: value for key, value in params.items() if value not in ("", None)}


def month_bounds(month: str) -> tuple[date, date]:
    """'2026-05' → (2026-05-01, 2026-05-31)."""
    first = datetime.strptime(month, "%Y-%m").date()
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)


class _Where:
    """A WHERE clause built with Piccolo's {} placeholders and its arguments, in order."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.args: list[Any] = []

    def add(self, sql: str, *args: Any) -> None:
        self.parts.append(sql)
        self.args.extend(args)

    def sql(self) -> str:
        return " AND ".join(self.parts) if self.parts else "1 = 1"


def _case_filters(where: _Where, filters: AnalyticsFilters, *, cohort: bool) -> None:
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


async def _raw(sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
    return list(await Case.raw(sql, *args))


def _product_join(filters: AnalyticsFilters, dimension: str = "") -> str:
    # The product table only matters for a category; joining it always costs a lookup per case.
    return "LEFT JOIN product p ON p.id = c.product " if filters.category or dimension == "category" else ""


def _int(value: Any) -> int:
    return int(value or 0)


# --- the daily sums (app/analytics/daily.py) as relations over a period -----------------------------------------


# Set while one read (the summary) runs on sums it has just brought up to date.
_refreshed: ContextVar[bool] = ContextVar("analytics_refreshed", default=False)


async def _fresh() -> None:
    """Days changed since the last read are summed again first, so every figure is exact."""
    if _refreshed.get():
        return
    if await _raw("SELECT 1 AS dirty FROM analytics_dirty LIMIT 1", []):
        await daily.refresh()


@asynccontextmanager
async def _one_read() -> AsyncIterator[None]:
    """Bring the sums up to date once, then read everything on one connection and one snapshot."""
    if _refreshed.get():
        yield
        return
    await _fresh()
    token = _refreshed.set(True)
    try:
        async with db.current_engine().transaction():
            yield
    finally:
        _refreshed.reset(token)


def _narrow(where: _Where, filters: AnalyticsFilters, *, problem_type: bool = True) -> None:
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


def _facts(fact: str, filters: AnalyticsFilters, where: _Where) -> tuple[str, list[Any]]:
    """`fact` over the period as relation `a` (stored sums, or its source when the sums are too coarse)."""
    sql = daily.Dialect()
    _narrow(where, filters)
    if not daily.FACTS[fact].by_product and (filters.product_id is not None or filters.category):
        text, args = daily.source(fact, filters.start, filters.end, sql)
    else:
        text, args = daily.stored(fact, filters.start, filters.end)
    return f"({text}) a", args


def _cohort(filters: AnalyticsFilters, where: _Where) -> tuple[str, list[Any]]:
    """Units delivered and cases on them, by delivery day; a problem type narrows the cases, not the units."""
    _narrow(where, filters, problem_type=False)
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


def _group(dimension: str, key: str) -> str:
    # PostgreSQL refuses to group by a constant: the overall figure is one ungrouped row.
    return "" if dimension == "all" else f" GROUP BY {key}"


# --- after-sales rate: affected units ÷ units delivered, on the cohort of orders delivered in the period ---

_RATE_KEYS = {
    "supplier": "a.supplier",
    "product": "a.product",
    "category": "p.category",
    "carrier": "a.carrier",
    "region": "a.region",
    "month": "",
    "all": "'all'",
}


async def _cohort_figures(filters: AnalyticsFilters, dimension: str) -> list[dict[str, Any]]:
    await _fresh()
    key = _RATE_KEYS[dimension] or daily.Dialect().month_of_date("a.day")
    where = _Where()
    relation, args = _cohort(filters, where)
    join = " LEFT JOIN product p ON p.id = a.product" if dimension == "category" else ""
    return await _raw(
        f"SELECT {key} AS k, SUM(a.units) AS units, SUM(a.affected) AS affected, SUM(a.n) AS cases "
        f"FROM {relation}{join} WHERE {where.sql()}{_group(dimension, key)}",
        [*args, *where.args],
    )


async def rates_by(filters: AnalyticsFilters, dimension: str) -> list[dict[str, Any]]:
    """One row per value of the dimension: units, affected units, cases, rate and interval."""
    rows = []
    for row in await _cohort_figures(filters, dimension):
        if row["k"] is None:
            continue
        cases, delivered = _int(row["cases"]), _int(row["units"])
        rate = wilson(_int(row["affected"]), delivered)
        rows.append(
            {
                "key": row["k"],
                "cases": cases,
                "cases_per_1000": round(cases * 1000 / delivered, 3) if delivered else None,
                **rate.as_dict(),
            }
        )
    return rows


async def overall_rate(filters: AnalyticsFilters) -> dict[str, Any]:
    rows = await rates_by(filters, "all")
    return rows[0] if rows else {"key": "all", "cases": 0, "cases_per_1000": None, **wilson(0, 0).as_dict()}


# --- case counts over cases reported in the period --------------------------------------------------------


async def _created(filters: AnalyticsFilters, select: str, tail: str = "") -> list[dict[str, Any]]:
    await _fresh()
    where = _Where()
    relation, args = _facts("created", filters, where)
    return await _raw(f"SELECT {select} FROM {relation} WHERE {where.sql()}{tail}", [*args, *where.args])


async def cases_by_problem_type(filters: AnalyticsFilters) -> list[dict[str, Any]]:
    """The Pareto: problem types by case count, largest first, with the cumulative share."""
    rows = await _created(
        filters,
        "a.problem_type AS k, SUM(a.n) AS cases, SUM(a.affected) AS affected",
        " GROUP BY a.problem_type",
    )
    rows.sort(key=lambda row: (-_int(row["cases"]), row["k"]))
    total = sum(_int(row["cases"]) for row in rows)
    running = 0
    pareto = []
    for row in rows:
        running += _int(row["cases"])
        pareto.append(
            {
                "problem_type": row["k"],
                "cases": _int(row["cases"]),
                "affected": _int(row["affected"]),
                "share": _int(row["cases"]) / total,
                "cumulative": running / total,
            }
        )
    return pareto


async def overdue_count(filters: AnalyticsFilters, *, now: datetime | None = None) -> int:
    """Open stage deadlines already past on open cases matching the filters (whenever reported)."""
    where = _overdue_where(filters, now or datetime.now(UTC))
    rows = await _raw(
        'SELECT COUNT(*) AS n FROM stage_deadline sd JOIN after_sales_case c ON c.id = sd."case" '
        f"{_product_join(filters)}WHERE {where.sql()}",
        where.args,
    )
    return _int(rows[0]["n"]) if rows else 0


async def case_totals(filters: AnalyticsFilters) -> dict[str, int]:
    """Cases reported in the period: all, still open, disputed now, and open past a stage deadline."""
    rows = await _created(
        filters,
        "SUM(a.n) AS cases, SUM(a.open_n) AS open, SUM(a.disputed) AS disputed, SUM(a.affected) AS affected",
    )
    row = rows[0] if rows else {}
    return {
        "cases": _int(row.get("cases")),
        "open": _int(row.get("open")),
        "disputed": _int(row.get("disputed")),
        "affected": _int(row.get("affected")),
        "overdue": await overdue_count(filters),
    }


async def monthly_trend(filters: AnalyticsFilters) -> list[dict[str, Any]]:
    """Per calendar month: cases reported, and the rate of the orders delivered that month."""
    month = daily.Dialect().month_of_date("a.day")
    counts = await _created(filters, f"{month} AS k, SUM(a.n) AS cases", f" GROUP BY {month}")
    cases = {row["k"]: _int(row["cases"]) for row in counts}
    cohort = {row["k"]: row for row in await _cohort_figures(filters, "month")}
    months = []
    cursor = filters.start.replace(day=1)
    while cursor <= filters.end:
        key = cursor.strftime("%Y-%m")
        row = cohort.get(key, {})
        rate = wilson(_int(row.get("affected")), _int(row.get("units")))
        months.append({"month": key, "cases": cases.get(key, 0), **rate.as_dict()})
        cursor = (cursor.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months


# --- process: time per node, deadlines kept, responsibility hints ------------------------------------------


async def _process(fact: str, filters: AnalyticsFilters, select: str, group: str) -> list[dict[str, Any]]:
    await _fresh()
    where = _Where()
    relation, args = _facts(fact, filters, where)
    return await _raw(f"SELECT {select} FROM {relation} WHERE {where.sql()} GROUP BY {group}", [*args, *where.args])


async def cycle_times(filters: AnalyticsFilters) -> list[dict[str, Any]]:
    """Days spent per node, from each node_changed event back to the case's previous move (or report)."""
    rows = await _process(
        "move",
        filters,
        "a.label AS node, SUM(a.n) AS moves, SUM(a.days) AS days, MAX(a.max_days) AS max_days",
        "a.label",
    )
    return sorted(
        (
            {
                "node": row["node"],
                "moves": _int(row["moves"]),
                "avg_days": float(row["days"] or 0) / _int(row["moves"]) if _int(row["moves"]) else 0.0,
                "max_days": float(row["max_days"] or 0),
            }
            for row in rows
        ),
        key=lambda row: row["node"],
    )


async def sla_compliance(filters: AnalyticsFilters) -> list[dict[str, Any]]:
    """Stage deadlines finished in the period, per node and party: how many within their due time."""
    rows = await _process(
        "deadline",
        filters,
        "a.label AS node, a.party AS party, SUM(a.n) AS finished, SUM(a.met) AS met",
        "a.label, a.party",
    )
    return sorted(
        (
            {
                "node": row["node"],
                "party": row["party"],
                "finished": _int(row["finished"]),
                "met": _int(row["met"]),
                "share": _int(row["met"]) / _int(row["finished"]),
            }
            for row in rows
        ),
        key=lambda row: (row["node"], row["party"]),
    )


async def hint_decisions(filters: AnalyticsFilters) -> dict[str, Any]:
    """How often staff confirmed the responsibility hint, and how often they decided otherwise."""
    rows = await _process("hint", filters, "a.label AS kind, SUM(a.n) AS n", "a.label")
    counts = {row["kind"]: _int(row["n"]) for row in rows}
    confirmed = counts.get("responsibility_confirmed", 0)
    overridden = counts.get("responsibility_overridden", 0)
    total = confirmed + overridden
    return {
        "confirmed": confirmed,
        "overridden": overridden,
        "confirmed_share": confirmed / total if total else None,
    }


async def hint_outcomes(filters: AnalyticsFilters) -> list[Outcome]:
    """Each case's last decision on the responsible party in the period, with the hint as it stood then."""
    where = _Where()
    where.add(f"e.kind IN ('{HINT_KINDS[0]}', '{HINT_KINDS[1]}')")
    where.add("e.at >= {}", datetime.combine(filters.start, time.min, tzinfo=UTC))
    where.add("e.at < {}", datetime.combine(filters.end + timedelta(days=1), time.min, tzinfo=UTC))
    _case_filters(where, filters, cohort=False)
    rows = await _raw(
        'SELECT e."case" AS case_id, e.kind AS kind, e.data AS data FROM case_event e '
        f'JOIN after_sales_case c ON c.id = e."case" {_product_join(filters)}'
        f"WHERE {where.sql()} ORDER BY e.at, e.id",
        where.args,
    )
    last: dict[int, Outcome] = {}
    for row in rows:
        data = row["data"]
        outcome = Outcome.from_event(row["kind"], json.loads(data) if isinstance(data, str) else data or {})
        if outcome is not None:
            last[row["case_id"]] = outcome
    return list(last.values())


async def hint_calibration(filters: AnalyticsFilters) -> dict[str, Any]:
    """How often hints of each confidence band were confirmed, and how often each rule was overridden."""
    return calibration(await hint_outcomes(filters))


# --- suppliers: who causes the volume, who takes responsibility, what came back -----------------------------


async def supplier_acceptance(filters: AnalyticsFilters) -> dict[int, dict[str, int]]:
    """Cases found to be the supplier's and, of those, the ones the supplier did not dispute."""
    rows = await _created(
        filters,
        "a.supplier AS k, SUM(a.assigned) AS assigned, SUM(a.accepted) AS accepted",
        " GROUP BY a.supplier HAVING SUM(a.assigned) > 0",
    )
    return {row["k"]: {"assigned": _int(row["assigned"]), "accepted": _int(row["accepted"])} for row in rows}


NO_ANSWERS: dict[str, Any] = {"pushed": 0, "answered": 0, "answer_days": None, "answer_max_days": None}


async def supplier_answer_times(filters: AnalyticsFilters) -> dict[int, dict[str, Any]]:
    """Per supplier, cases first pushed to them in the period: how many they answered and how fast.

    The answer time runs from our first push to the supplier's first answer after it on the case (accept,
    accept in part, dispute, or a message); a case still waiting counts as pushed, not answered.
    """
    rows = await _process(
        "answer",
        filters,
        "a.supplier AS k, SUM(a.n) AS pushed, SUM(a.met) AS answered, SUM(a.days) AS days, MAX(a.max_days) AS max_days",
        "a.supplier",
    )
    times: dict[int, dict[str, Any]] = {}
    for row in rows:
        answered = _int(row["answered"])
        times[row["k"]] = {
            "pushed": _int(row["pushed"]),
            "answered": answered,
            "answer_days": float(row["days"]) / answered if answered else None,
            "answer_max_days": float(row["max_days"]) if answered else None,
        }
    return times


async def recovered_money(filters: AnalyticsFilters, party: str = "supplier") -> dict[Any, dict[str, dict[str, str]]]:
    """Claimed and recovered per supplier and currency, for claims raised in the period."""
    where = _Where()
    where.add("r.claimed_on >= {} AND r.claimed_on <= {}", filters.start, filters.end)
    where.add("r.party = {}", party)
    _case_filters(where, filters, cohort=False)
    rows = await _raw(
        "SELECT c.supplier AS k, r.currency AS currency, SUM(r.claimed_amount) AS claimed, "
        'SUM(r.recovered_amount) AS recovered FROM recovery r JOIN after_sales_case c ON c.id = r."case" '
        f"{_product_join(filters)}WHERE {where.sql()} GROUP BY c.supplier, r.currency",
        where.args,
    )
    money: dict[Any, dict[str, dict[str, str]]] = {}
    for row in rows:
        money.setdefault(row["k"], {})[row["currency"]] = {
            "claimed": _money(row["claimed"]),
            "recovered": _money(row["recovered"]),
        }
    return money


def _money(value: Any) -> str:
    return str(Decimal(str(value or 0)).quantize(Decimal("0.01")))


async def supplier_ranking(
    filters: AnalyticsFilters, rates: list[dict[str, Any]] | None = None, overall_row: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Suppliers by after-sales rate, worst first, with the flag where the interval clears the overall rate."""
    overall = (overall_row or await overall_rate(filters))["rate"]
    rates = rates if rates is not None else await rates_by(filters, "supplier")
    acceptance = await supplier_acceptance(filters)
    answers = await supplier_answer_times(filters)
    money = await recovered_money(filters)
    names = await _names(Supplier, [row["key"] for row in rates])
    ranking = []
    for row in rates:
        taken = acceptance.get(row["key"], {"assigned": 0, "accepted": 0})
        ranking.append(
            {
                **row,
                "name": names.get(row["key"], str(row["key"])),
                "significantly_above": overall is not None and row["units"] > 0 and row["low"] > overall,
                "assigned": taken["assigned"],
                "accepted": taken["accepted"],
                "acceptance": taken["accepted"] / taken["assigned"] if taken["assigned"] else None,
                **answers.get(row["key"], NO_ANSWERS),
                "money": money.get(row["key"], {}),
            }
        )
    ranking.sort(key=lambda row: (-(row["rate"] or 0), row["name"]))
    return ranking


async def _names(table: Any, ids: list[Any]) -> dict[int, str]:
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


async def named_rates(
    filters: AnalyticsFilters,
    dimension: str,
    *,
    overall_row: dict[str, Any] | None = None,
    rows: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """rates_by with display names, worst first, flagged against the overall rate."""
    overall = (overall_row or await overall_rate(filters))["rate"]
    rows = rows if rows is not None else await rates_by(filters, dimension)
    table = {"supplier": Supplier, "carrier": Carrier, "product": Product}.get(dimension)
    names = await _names(table, [row["key"] for row in rows]) if table is not None else {}
    for row in rows:
        row["name"] = names.get(row["key"], str(row["key"])) if table is not None else str(row["key"] or "—")
        row["significantly_above"] = overall is not None and row["units"] > 0 and row["low"] > overall
    rows.sort(key=lambda row: (-(row["rate"] or 0), row["name"]))
    return rows


# --- case lists for the report -------------------------------------------------------------------------------


def _overdue_where(filters: AnalyticsFilters, now: datetime) -> _Where:
    # Past due at `now` and not finished by then: the report asks as of the month's last moment.
    where = _Where()
    where.add("(sd.finished_at IS NULL OR sd.finished_at > {}) AND sd.due_at < {}", now, now)
    where.add(f"c.node NOT IN {OPEN_NODES_SQL}")
    _case_filters(where, filters, cohort=False)
    return where


async def overdue_cases(
    filters: AnalyticsFilters, *, now: datetime | None = None, limit: int | None = 50
) -> list[dict[str, Any]]:
    """Open stage deadlines already past, on cases matching the filters (whenever reported)."""
    where = _overdue_where(filters, now or datetime.now(UTC))
    tail = f" LIMIT {int(limit)}" if limit else ""
    rows = await _raw(
        "SELECT c.number AS number, c.problem_type AS problem_type, c.node AS node, sd.owner_party AS party, "
        'sd.due_at AS due_at FROM stage_deadline sd JOIN after_sales_case c ON c.id = sd."case" '
        f"{_product_join(filters)}WHERE {where.sql()} ORDER BY sd.due_at{tail}",
        where.args,
    )
    return rows


async def disputed_cases(filters: AnalyticsFilters, *, limit: int = 50) -> list[dict[str, Any]]:
    where = _Where()
    where.add("c.node = 'disputed'")
    _case_filters(where, filters, cohort=False)
    return await _raw(
        "SELECT c.number AS number, c.problem_type AS problem_type, c.node_entered_at AS since, "
        f"s.name AS supplier FROM after_sales_case c {_product_join(filters)}"
        f"LEFT JOIN supplier s ON s.id = c.supplier WHERE {where.sql()} ORDER BY c.node_entered_at LIMIT {int(limit)}",
        where.args,
    )


# --- the whole summary ----------------------------------------------------------------------------------------


async def summary(filters: AnalyticsFilters) -> dict[str, Any]:
    """Everything the dashboard shows, as plain JSON-ready data."""
    async with _one_read():
        return await _summary(filters)


async def _summary(filters: AnalyticsFilters) -> dict[str, Any]:
    # Every order has a supplier, so the supplier rows add up to the overall figure: one pair of scans less
    # per dimension than asking for the overall rate each time.
    per_supplier = await rates_by(filters, "supplier")
    total = wilson(sum(row["affected"] for row in per_supplier), sum(row["units"] for row in per_supplier))
    cases = sum(row["cases"] for row in per_supplier)
    overall = {
        "key": "all",
        "cases": cases,
        "cases_per_1000": round(cases * 1000 / total.units, 3) if total.units else None,
        **total.as_dict(),
    }
    by = {
        dimension: await named_rates(
            filters, dimension, overall_row=overall, rows=per_supplier if dimension == "supplier" else None
        )
        for dimension in DIMENSIONS
    }
    return {
        "period": {"from": filters.start.isoformat(), "to": filters.end.isoformat()},
        "totals": await case_totals(filters),
        "rate": overall,
        "by": by,
        "problem_types": await cases_by_problem_type(filters),
        "trend": await monthly_trend(filters),
        "cycle_times": await cycle_times(filters),
        "sla": await sla_compliance(filters),
        "hints": await hint_decisions(filters),
        "calibration": await hint_calibration(filters),
        "suppliers": await supplier_ranking(filters, rates=[dict(row) for row in by["supplier"]], overall_row=overall),
    }


# --- what the filters offer, and reading them from a request ----------------------------------------------------


async def filter_choices() -> dict[str, Any]:
    """Suppliers, carriers, categories and regions to choose from on the dashboard."""
    suppliers = await Supplier.select(Supplier.id, Supplier.name).order_by(Supplier.name)
    carriers = await Carrier.select(Carrier.id, Carrier.name).order_by(Carrier.name)
    categories = await Product.raw("SELECT DISTINCT category AS v FROM product WHERE category <> '' ORDER BY v")
    regions = await Case.raw("SELECT DISTINCT region AS v FROM purchase_order WHERE region <> '' ORDER BY v")
    return {
        "suppliers": suppliers,
        "carriers": carriers,
        "categories": [row["v"] for row in categories],
        "regions": [row["v"] for row in regions],
    }


def default_period(today: date) -> tuple[date, date]:
    """The last six calendar months, this one included."""
    first = today.replace(day=1)
    for _ in range(5):
        first = (first - timedelta(days=1)).replace(day=1)
    return first, today


def parse_filters(
    *,
    today: date,
    start: str = "",
    end: str = "",
    supplier: str = "",
    carrier: str = "",
    product: str = "",
    category: str = "",
    region: str = "",
    problem_type: str = "",
) -> AnalyticsFilters:
    """Filters from query text; a bad value is a ValidationFailed naming the field."""
    from app.errors import ValidationFailed
    from app.i18n import gettext as _

    fields: list[tuple[str, str]] = []

    def day(name: str, text: str, fallback: date) -> date:
        if not text:
            return fallback
        try:
            return date.fromisoformat(text)
        except ValueError:
            fields.append((name, _("Use a date like 2026-05-31.")))
            return fallback

    def number(name: str, text: str) -> int | None:
        if not text:
            return None
        if not text.isdecimal():
            fields.append((name, _("Choose one from the list.")))
            return None
        return int(text)

    default_start, default_end = default_period(today)
    filters = AnalyticsFilters(
        start=day("from", start, default_start),
        end=day("to", end, default_end),
        supplier_id=number("supplier", supplier),
        carrier_id=number("carrier", carrier),
        product_id=number("product", product),
        category=category[:60],
        region=region[:60],
        problem_type=problem_type[:30],
    )
    if filters.end < filters.start:
        fields.append(("to", _("The end of the period comes before its start.")))
    elif (filters.end - filters.start).days > 366 * 5:
        fields.append(("from", _("Choose a period of at most five years.")))
    if fields:
        raise ValidationFailed(_("Some filters could not be read."), fields=fields)
    return filters


# --- corrective actions, root causes and money still owed ------------------------------------------------------


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
    rows = await _created(
        filters,
        "a.problem_type AS problem_type, a.label AS root_cause, SUM(a.n) AS cases",
        " GROUP BY a.problem_type, a.label ORDER BY cases DESC",
    )
    return [{**row, "cases": _int(row["cases"])} for row in rows]


AGEING_BUCKETS = ((0, 30, "0–30"), (31, 60, "31–60"), (61, 90, "61–90"), (91, 10**6, "90+"))


async def recovery_ledger(*, today: date, limit: int = 200) -> dict[str, Any]:
    """Claims per case and party: claimed vs recovered per currency, and the age of what is still open.

    The totals and the ageing cover every claim; the list shows the `limit` claims with the latest claim
    dates (ties: the last recorded first), so a claim recorded today with an earlier claim date may fall
    off a full list.
    """
    rows = await _raw(
        "SELECT r.id AS id, c.number AS number, r.party AS party, r.kind AS kind, r.currency AS currency, "
        "r.claimed_amount AS claimed, r.recovered_amount AS recovered, r.claimed_on AS claimed_on, "
        'r.recovered_on AS recovered_on FROM recovery r JOIN after_sales_case c ON c.id = r."case" '
        f"ORDER BY r.claimed_on DESC, r.id DESC LIMIT {int(limit)}",
        [],
    )
    for row in rows:
        claimed = Decimal(str(row["claimed"] or 0))
        recovered = Decimal(str(row["recovered"] or 0))
        open_amount = max(Decimal(0), claimed - recovered)
        claimed_on = row["claimed_on"]
        if isinstance(claimed_on, str):
            claimed_on = date.fromisoformat(claimed_on)
        row["open"] = _money(open_amount)
        row["claimed"], row["recovered"] = _money(claimed), _money(recovered)
        row["age_days"] = (today - claimed_on).days if claimed_on else None
        if open_amount and row["age_days"] is not None:
            row["bucket"] = _bucket_of(row["age_days"])
    bucket, args = _bucket_sql(today)
    sums = await _raw(
        "SELECT a.currency AS currency, a.bucket AS bucket, SUM(a.claimed) AS claimed, "
        "SUM(a.recovered) AS recovered, SUM(CASE WHEN a.claimed > a.recovered "
        "THEN a.claimed - a.recovered ELSE 0 END) AS open FROM ("
        f"SELECT r.currency AS currency, {bucket} AS bucket, r.claimed_amount AS claimed, "
        "r.recovered_amount AS recovered FROM recovery r) a GROUP BY a.currency, a.bucket",
        args,
    )
    totals: dict[str, dict[str, Decimal]] = {}
    ageing: dict[str, dict[str, Decimal]] = {}
    for cell in sums:
        total = totals.setdefault(cell["currency"], {name: Decimal(0) for name in ("claimed", "recovered", "open")})
        for name in total:
            total[name] += Decimal(str(cell[name] or 0))
        open_amount = Decimal(str(cell["open"] or 0))
        if open_amount and cell["bucket"] is not None:
            cells = ageing.setdefault(cell["currency"], {label: Decimal(0) for *_, label in AGEING_BUCKETS})
            cells[cell["bucket"]] += open_amount
    return {
        "rows": rows,
        "totals": {cur: {k: _money(v) for k, v in t.items()} for cur, t in sorted(totals.items())},
        "ageing": {cur: {k: _money(v) for k, v in cells.items()} for cur, cells in ageing.items()},
        "buckets": [label for *_, label in AGEING_BUCKETS],
    }


def _bucket_of(age_days: int) -> str | None:
    return next((label for low, high, label in AGEING_BUCKETS if low <= age_days <= high), None)


def _bucket_sql(today: date) -> tuple[str, list[Any]]:
    """The ageing bucket of a claim's date as SQL (a claim dated in the future has none)."""
    whens, args = [], []
    for low, high, label in AGEING_BUCKETS:
        if high >= AGEING_BUCKETS[-1][1]:
            whens.append(f"WHEN r.claimed_on <= {{}} THEN '{label}'")
            args.append(today - timedelta(days=low))
        else:
            whens.append(f"WHEN r.claimed_on <= {{}} AND r.claimed_on >= {{}} THEN '{label}'")
            args += [today - timedelta(days=low), today - timedelta(days=high)]
    return f"(CASE {' '.join(whens)} END)", args


async def products_of(supplier_id: int) -> list[dict[str, Any]]:
    return list(
        await Product.select(Product.id, Product.sku, Product.name)
        .where(Product.supplier == supplier_id)
        .order_by(Product.sku)
    )
