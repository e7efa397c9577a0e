"""Reads for the dashboard, the API and the monthly report: every figure is one SQL aggregate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from app import db
from app.analytics.rates import wilson
from app.cases.tables import Case
from app.trade.tables import Carrier, Product, Supplier

DIMENSIONS = ("supplier", "product", "category", "carrier", "region")
HINT_KINDS = ("responsibility_confirmed", "responsibility_overridden")
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


class _Sql:
    """The few expressions that differ between SQLite and PostgreSQL."""

    def __init__(self) -> None:
        self.sqlite = db.is_sqlite(db.current_engine())

    def month_of_timestamp(self, column: str) -> str:
        # SQLite keeps timestamps as UTC text; PostgreSQL converts to the session zone unless told.
        return f"substr({column}, 1, 7)" if self.sqlite else f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM')"

    def month_of_date(self, column: str) -> str:
        return f"substr({column}, 1, 7)" if self.sqlite else f"to_char({column}, 'YYYY-MM')"

    def days_between(self, later: str, earlier: str) -> str:
        if self.sqlite:
            return f"(julianday({later}) - julianday({earlier}))"
        return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0)"

    def json_text(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')" if self.sqlite else f"({column}::jsonb ->> '{key}')"

    def within_due(self) -> str:
        if self.sqlite:
            return "julianday(sd.finished_at) <= julianday(sd.due_at) + sd.paused_seconds / 86400.0"
        return "sd.finished_at <= sd.due_at + sd.paused_seconds * interval '1 second'"


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


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


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


def _created_in(where: _Where, filters: AnalyticsFilters, column: str = "c.created_at") -> None:
    where.add(
        f"{column} >= {{}} AND {column} < {{}}", _day_start(filters.start), _day_start(filters.end + timedelta(days=1))
    )


async def _raw(sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
    return list(await Case.raw(sql, *args))


def _group(dimension: str, key: str) -> str:
    # PostgreSQL refuses to group by a constant: the overall figure is one ungrouped row.
    return "" if dimension == "all" else f" GROUP BY {key}"


def _product_join(filters: AnalyticsFilters, dimension: str = "") -> str:
    # The product table only matters for a category; joining it always costs a lookup per case.
    return "LEFT JOIN product p ON p.id = c.product " if filters.category or dimension == "category" else ""


def _int(value: Any) -> int:
    return int(value or 0)


# --- after-sales rate: affected units ÷ units delivered, on the cohort of orders delivered in the period ---

_CASE_KEYS = {
    "supplier": "po.supplier",
    "product": "c.product",
    "category": "p.category",
    "carrier": "po.carrier",
    "region": "po.region",
    "month": "",
    "all": "'all'",
}
_LINE_KEYS = {
    "supplier": "po.supplier",
    "product": "ol.product",
    "category": "p.category",
    "carrier": "po.carrier",
    "region": "po.region",
    "month": "",
    "all": "'all'",
}


async def _affected_units(filters: AnalyticsFilters, dimension: str, sql: _Sql) -> dict[Any, tuple[int, int]]:
    key = _CASE_KEYS[dimension] or sql.month_of_date("po.delivered_on")
    where = _Where()
    where.add("po.delivered_on >= {} AND po.delivered_on <= {}", filters.start, filters.end)
    where.add("c.node <> 'cancelled'")
    _case_filters(where, filters, cohort=True)
    rows = await _raw(
        f"SELECT {key} AS k, SUM(c.quantity_affected) AS affected, COUNT(*) AS cases "
        "FROM after_sales_case c JOIN purchase_order po ON po.id = c.purchase_order "
        f"{_product_join(filters, dimension)}WHERE {where.sql()} {_group(dimension, key)}",
        where.args,
    )
    return {row["k"]: (_int(row["affected"]), _int(row["cases"])) for row in rows}


async def _units_delivered(filters: AnalyticsFilters, dimension: str, sql: _Sql) -> dict[Any, int]:
    key = _LINE_KEYS[dimension] or sql.month_of_date("po.delivered_on")
    where = _Where()
    where.add("po.delivered_on >= {} AND po.delivered_on <= {}", filters.start, filters.end)
    if filters.supplier_id is not None:
        where.add("po.supplier = {}", filters.supplier_id)
    if filters.carrier_id is not None:
        where.add("po.carrier = {}", filters.carrier_id)
    if filters.region:
        where.add("po.region = {}", filters.region)
    if filters.product_id is not None:
        where.add("ol.product = {}", filters.product_id)
    if filters.category:
        where.add("p.category = {}", filters.category)
    # Only join products when their category matters: the line table is the biggest one here.
    join = "JOIN product p ON p.id = ol.product " if dimension == "category" or filters.category else ""
    rows = await _raw(
        f"SELECT {key} AS k, SUM(ol.quantity_delivered) AS units "
        "FROM order_line ol JOIN purchase_order po ON po.id = ol.purchase_order "
        f"{join}WHERE {where.sql()} {_group(dimension, key)}",
        where.args,
    )
    return {row["k"]: _int(row["units"]) for row in rows}


async def rates_by(filters: AnalyticsFilters, dimension: str) -> list[dict[str, Any]]:
    """One row per value of the dimension: units, affected units, cases, rate and interval."""
    sql = _Sql()
    affected = await _affected_units(filters, dimension, sql)
    units = await _units_delivered(filters, dimension, sql)
    rows = []
    for key in set(units) | set(affected):
        if key is None:
            continue
        hit, cases = affected.get(key, (0, 0))
        delivered = units.get(key, 0)
        rate = wilson(hit, delivered)
        rows.append(
            {
                "key": key,
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


async def cases_by_problem_type(filters: AnalyticsFilters) -> list[dict[str, Any]]:
    """The Pareto: problem types by case count, largest first, with the cumulative share."""
    where = _Where()
    _created_in(where, filters)
    _case_filters(where, filters, cohort=False)
    rows = await _raw(
        "SELECT c.problem_type AS k, COUNT(*) AS cases, SUM(c.quantity_affected) AS affected "
        f"FROM after_sales_case c {_product_join(filters)}WHERE {where.sql()} "
        "GROUP BY c.problem_type",
        where.args,
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


async def case_totals(filters: AnalyticsFilters) -> dict[str, int]:
    """Cases reported in the period: all, still open, disputed now, and open past a stage deadline."""
    where = _Where()
    _created_in(where, filters)
    _case_filters(where, filters, cohort=False)
    rows = await _raw(
        "SELECT COUNT(*) AS cases, "
        f"SUM(CASE WHEN c.node NOT IN {OPEN_NODES_SQL} THEN 1 ELSE 0 END) AS open, "
        "SUM(CASE WHEN c.node = 'disputed' THEN 1 ELSE 0 END) AS disputed, "
        "SUM(c.quantity_affected) AS affected "
        f"FROM after_sales_case c {_product_join(filters)}WHERE {where.sql()}",
        where.args,
    )
    row = rows[0] if rows else {}
    overdue = await overdue_cases(filters, limit=None)
    return {
        "cases": _int(row.get("cases")),
        "open": _int(row.get("open")),
        "disputed": _int(row.get("disputed")),
        "affected": _int(row.get("affected")),
        "overdue": len(overdue),
    }


async def monthly_trend(filters: AnalyticsFilters) -> list[dict[str, Any]]:
    """Per calendar month: cases reported, and the rate of the orders delivered that month."""
    sql = _Sql()
    where = _Where()
    _created_in(where, filters)
    _case_filters(where, filters, cohort=False)
    month = sql.month_of_timestamp("c.created_at")
    counts = await _raw(
        f"SELECT {month} AS k, COUNT(*) AS cases FROM after_sales_case c "
        f"{_product_join(filters)}WHERE {where.sql()} GROUP BY {month}",
        where.args,
    )
    cases = {row["k"]: _int(row["cases"]) for row in counts}
    affected = await _affected_units(filters, "month", sql)
    units = await _units_delivered(filters, "month", sql)
    months = []
    cursor = filters.start.replace(day=1)
    while cursor <= filters.end:
        key = cursor.strftime("%Y-%m")
        rate = wilson(affected.get(key, (0, 0))[0], units.get(key, 0))
        months.append({"month": key, "cases": cases.get(key, 0), **rate.as_dict()})
        cursor = (cursor.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months


# --- process: time per node, deadlines kept, responsibility hints ------------------------------------------


async def cycle_times(filters: AnalyticsFilters) -> list[dict[str, Any]]:
    """Days spent per node, from each node_changed event back to the case's previous move (or report)."""
    sql = _Sql()
    where = _Where()
    _created_in(where, filters, column="t.at")
    case_where = _Where()
    # Moves after the period cannot be the previous move of one inside it: leave them out of the window.
    case_where.add("e.at < {}", _day_start(filters.end + timedelta(days=1)))
    _case_filters(case_where, filters, cohort=False)
    previous = 'COALESCE(LAG(e.at) OVER (PARTITION BY e."case" ORDER BY e.id), c.created_at)'
    # The window only carries the previous time; the JSON and date arithmetic run on the period's rows alone.
    node = sql.json_text("t.data", "from")
    days = sql.days_between("t.at", "t.since")
    rows = await _raw(
        f"SELECT {node} AS node, COUNT(*) AS moves, AVG({days}) AS avg_days, MAX({days}) AS max_days FROM ("
        f"SELECT e.data AS data, e.at AS at, {previous} AS since "
        f'FROM case_event e JOIN after_sales_case c ON c.id = e."case" {_product_join(filters)}'
        f"WHERE e.kind = 'node_changed' AND {case_where.sql()}"
        f") t WHERE {where.sql()} GROUP BY {node}",
        [*case_where.args, *where.args],
    )
    return sorted(
        (
            {
                "node": row["node"],
                "moves": _int(row["moves"]),
                "avg_days": float(row["avg_days"] or 0),
                "max_days": float(row["max_days"] or 0),
            }
            for row in rows
        ),
        key=lambda row: row["node"],
    )


async def sla_compliance(filters: AnalyticsFilters) -> list[dict[str, Any]]:
    """Stage deadlines finished in the period, per node and party: how many within their due time."""
    sql = _Sql()
    where = _Where()
    _created_in(where, filters, column="sd.finished_at")
    _case_filters(where, filters, cohort=False)
    rows = await _raw(
        "SELECT sd.node AS node, sd.owner_party AS party, COUNT(*) AS finished, "
        f"SUM(CASE WHEN {sql.within_due()} THEN 1 ELSE 0 END) AS met "
        'FROM stage_deadline sd JOIN after_sales_case c ON c.id = sd."case" '
        f"{_product_join(filters)}WHERE {where.sql()} GROUP BY sd.node, sd.owner_party",
        where.args,
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
    where = _Where()
    _created_in(where, filters, column="e.at")
    _case_filters(where, filters, cohort=False)
    rows = await _raw(
        'SELECT e.kind AS kind, COUNT(*) AS n FROM case_event e JOIN after_sales_case c ON c.id = e."case" '
        f"{_product_join(filters)}WHERE e.kind IN ({{}}, {{}}) AND {where.sql()} GROUP BY e.kind",
        [*HINT_KINDS, *where.args],
    )
    counts = {row["kind"]: _int(row["n"]) for row in rows}
    confirmed = counts.get("responsibility_confirmed", 0)
    overridden = counts.get("responsibility_overridden", 0)
    total = confirmed + overridden
    return {
        "confirmed": confirmed,
        "overridden": overridden,
        "confirmed_share": confirmed / total if total else None,
    }


# --- suppliers: who causes the volume, who takes responsibility, what came back -----------------------------


async def supplier_acceptance(filters: AnalyticsFilters) -> dict[int, dict[str, int]]:
    """Cases found to be the supplier's and, of those, the ones the supplier did not dispute."""
    where = _Where()
    _created_in(where, filters)
    _case_filters(where, filters, cohort=False)
    rows = await _raw(
        "SELECT c.supplier AS k, COUNT(*) AS assigned, SUM(CASE WHEN NOT EXISTS (SELECT 1 FROM dispute d "
        "WHERE d.\"case\" = c.id AND d.opened_by = 'supplier') THEN 1 ELSE 0 END) AS accepted "
        f"FROM after_sales_case c {_product_join(filters)}"
        f"WHERE c.confirmed_party = 'supplier' AND {where.sql()} GROUP BY c.supplier",
        where.args,
    )
    return {row["k"]: {"assigned": _int(row["assigned"]), "accepted": _int(row["accepted"])} for row in rows}


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


async def overdue_cases(
    filters: AnalyticsFilters, *, now: datetime | None = None, limit: int | None = 50
) -> list[dict[str, Any]]:
    """Open stage deadlines already past, on cases matching the filters (whenever reported)."""
    now = now or datetime.now(UTC)
    where = _Where()
    where.add("sd.finished_at IS NULL AND sd.due_at < {}", now)
    where.add(f"c.node NOT IN {OPEN_NODES_SQL}")
    _case_filters(where, filters, cohort=False)
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
        if not text.isdigit():
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
    """Corrective actions, newest first, with the rate before and after and both intervals."""
    from app.analytics.tables import CorrectiveAction

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
    for row in rows:
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
    where = _Where()
    _created_in(where, filters)
    _case_filters(where, filters, cohort=False)
    rows = await _raw(
        "SELECT c.problem_type AS problem_type, c.root_cause AS root_cause, COUNT(*) AS cases "
        f"FROM after_sales_case c {_product_join(filters)}WHERE {where.sql()} "
        "GROUP BY c.problem_type, c.root_cause ORDER BY cases DESC",
        where.args,
    )
    return [{**row, "cases": _int(row["cases"])} for row in rows]


AGEING_BUCKETS = ((0, 30, "0–30"), (31, 60, "31–60"), (61, 90, "61–90"), (91, 10**6, "90+"))


async def recovery_ledger(*, today: date, limit: int = 200) -> dict[str, Any]:
    """Claims per case and party: claimed vs recovered per currency, and the age of what is still open."""
    rows = await _raw(
        "SELECT r.id AS id, c.number AS number, r.party AS party, r.kind AS kind, r.currency AS currency, "
        "r.claimed_amount AS claimed, r.recovered_amount AS recovered, r.claimed_on AS claimed_on, "
        'r.recovered_on AS recovered_on FROM recovery r JOIN after_sales_case c ON c.id = r."case" '
        f"ORDER BY r.claimed_on, r.id LIMIT {int(limit)}",
        [],
    )
    totals: dict[str, dict[str, Decimal]] = {}
    ageing: dict[str, dict[str, Decimal]] = {}
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
        total = totals.setdefault(row["currency"], {"claimed": Decimal(0), "recovered": Decimal(0), "open": Decimal(0)})
        total["claimed"] += claimed
        total["recovered"] += recovered
        total["open"] += open_amount
        if open_amount and row["age_days"] is not None:
            bucket = next(label for low, high, label in AGEING_BUCKETS if low <= row["age_days"] <= high)
            row["bucket"] = bucket
            cells = ageing.setdefault(row["currency"], {label: Decimal(0) for *_, label in AGEING_BUCKETS})
            cells[bucket] += open_amount
    return {
        "rows": rows,
        "totals": {cur: {k: _money(v) for k, v in t.items()} for cur, t in totals.items()},
        "ageing": {cur: {k: _money(v) for k, v in cells.items()} for cur, cells in ageing.items()},
        "buckets": [label for *_, label in AGEING_BUCKETS],
    }


async def products_of(supplier_id: int) -> list[dict[str, Any]]:
    return list(
        await Product.select(Product.id, Product.sku, Product.name)
        .where(Product.supplier == supplier_id)
        .order_by(Product.sku)
    )
