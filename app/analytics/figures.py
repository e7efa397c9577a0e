"""The dashboard's figures: rates, case totals, trends, cycle times, deadlines kept, hints, suppliers, summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

from app.analytics import daily
from app.analytics.calibration import Outcome, calibration
from app.analytics.daily import HINT_KINDS
from app.analytics.filters import AnalyticsFilters
from app.analytics.rates import wilson
from app.analytics.recovery import recovered_money
from app.analytics.sums import (
    Where,
    as_int,
    case_filters,
    cohort_relation,
    display_names,
    ensure_fresh,
    fact_relation,
    group_by,
    one_read,
    product_join,
    raw,
    reported,
)
from app.trade.tables import Carrier, Product, Supplier

DIMENSIONS = ("supplier", "product", "category", "carrier", "region")
OPEN_NODES_SQL = "('closed', 'cancelled')"

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
    await ensure_fresh()
    key = _RATE_KEYS[dimension] or daily.Dialect().month_of_date("a.day")
    where = Where()
    relation, args = cohort_relation(filters, where)
    join = " LEFT JOIN product p ON p.id = a.product" if dimension == "category" else ""
    return await raw(
        f"SELECT {key} AS k, SUM(a.units) AS units, SUM(a.affected) AS affected, SUM(a.n) AS cases "
        f"FROM {relation}{join} WHERE {where.sql()}{group_by(dimension, key)}",
        [*args, *where.args],
    )


async def rates_by(filters: AnalyticsFilters, dimension: str) -> list[dict[str, Any]]:
    """One row per value of the dimension: units, affected units, cases, rate and interval."""
    rows = []
    for row in await _cohort_figures(filters, dimension):
        if row["k"] is None:
            continue
        cases, delivered = as_int(row["cases"]), as_int(row["units"])
        rate = wilson(as_int(row["affected"]), delivered)
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


async def cases_by_problem_type(filters: AnalyticsFilters) -> list[dict[str, Any]]:
    """The Pareto: problem types by case count, largest first, with the cumulative share."""
    rows = await reported(
        filters,
        "a.problem_type AS k, SUM(a.n) AS cases, SUM(a.affected) AS affected",
        " GROUP BY a.problem_type",
    )
    rows.sort(key=lambda row: (-as_int(row["cases"]), row["k"]))
    total = sum(as_int(row["cases"]) for row in rows)
    running = 0
    pareto = []
    for row in rows:
        running += as_int(row["cases"])
        pareto.append(
            {
                "problem_type": row["k"],
                "cases": as_int(row["cases"]),
                "affected": as_int(row["affected"]),
                "share": as_int(row["cases"]) / total,
                "cumulative": running / total,
            }
        )
    return pareto


async def overdue_count(filters: AnalyticsFilters, *, now: datetime | None = None) -> int:
    """Open stage deadlines already past on open cases matching the filters (whenever reported)."""
    where = _overdue_where(filters, now or datetime.now(UTC))
    rows = await raw(
        'SELECT COUNT(*) AS n FROM stage_deadline sd JOIN after_sales_case c ON c.id = sd."case" '
        f"{product_join(filters)}WHERE {where.sql()}",
        where.args,
    )
    return as_int(rows[0]["n"]) if rows else 0


async def case_totals(filters: AnalyticsFilters) -> dict[str, int]:
    """Cases reported in the period: all, still open, disputed now, and open past a stage deadline."""
    rows = await reported(
        filters,
        "SUM(a.n) AS cases, SUM(a.open_n) AS open, SUM(a.disputed) AS disputed, SUM(a.affected) AS affected",
    )
    row = rows[0] if rows else {}
    return {
        "cases": as_int(row.get("cases")),
        "open": as_int(row.get("open")),
        "disputed": as_int(row.get("disputed")),
        "affected": as_int(row.get("affected")),
        "overdue": await overdue_count(filters),
    }


async def monthly_trend(filters: AnalyticsFilters) -> list[dict[str, Any]]:
    """Per calendar month: cases reported, and the rate of the orders delivered that month."""
    month = daily.Dialect().month_of_date("a.day")
    counts = await reported(filters, f"{month} AS k, SUM(a.n) AS cases", f" GROUP BY {month}")
    cases = {row["k"]: as_int(row["cases"]) for row in counts}
    cohort = {row["k"]: row for row in await _cohort_figures(filters, "month")}
    months = []
    cursor = filters.start.replace(day=1)
    while cursor <= filters.end:
        key = cursor.strftime("%Y-%m")
        row = cohort.get(key, {})
        rate = wilson(as_int(row.get("affected")), as_int(row.get("units")))
        months.append({"month": key, "cases": cases.get(key, 0), **rate.as_dict()})
        cursor = (cursor.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months


# --- process: time per node, deadlines kept, responsibility hints ------------------------------------------


async def _process(fact: str, filters: AnalyticsFilters, select: str, group: str) -> list[dict[str, Any]]:
    await ensure_fresh()
    where = Where()
    relation, args = fact_relation(fact, filters, where)
    return await raw(f"SELECT {select} FROM {relation} WHERE {where.sql()} GROUP BY {group}", [*args, *where.args])


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
                "moves": as_int(row["moves"]),
                "avg_days": float(row["days"] or 0) / as_int(row["moves"]) if as_int(row["moves"]) else 0.0,
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
                "finished": as_int(row["finished"]),
                "met": as_int(row["met"]),
                "share": as_int(row["met"]) / as_int(row["finished"]),
            }
            for row in rows
        ),
        key=lambda row: (row["node"], row["party"]),
    )


async def hint_decisions(filters: AnalyticsFilters) -> dict[str, Any]:
    """How often staff confirmed the responsibility hint, and how often they decided otherwise."""
    rows = await _process("hint", filters, "a.label AS kind, SUM(a.n) AS n", "a.label")
    counts = {row["kind"]: as_int(row["n"]) for row in rows}
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
    where = Where()
    where.add(f"e.kind IN ('{HINT_KINDS[0]}', '{HINT_KINDS[1]}')")
    where.add("e.at >= {}", datetime.combine(filters.start, time.min, tzinfo=UTC))
    where.add("e.at < {}", datetime.combine(filters.end + timedelta(days=1), time.min, tzinfo=UTC))
    case_filters(where, filters, cohort=False)
    rows = await raw(
        'SELECT e."case" AS case_id, e.kind AS kind, e.data AS data FROM case_event e '
        f'JOIN after_sales_case c ON c.id = e."case" {product_join(filters)}'
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
    rows = await reported(
        filters,
        "a.supplier AS k, SUM(a.assigned) AS assigned, SUM(a.accepted) AS accepted",
        " GROUP BY a.supplier HAVING SUM(a.assigned) > 0",
    )
    return {row["k"]: {"assigned": as_int(row["assigned"]), "accepted": as_int(row["accepted"])} for row in rows}


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
        answered = as_int(row["answered"])
        times[row["k"]] = {
            "pushed": as_int(row["pushed"]),
            "answered": answered,
            "answer_days": float(row["days"]) / answered if answered else None,
            "answer_max_days": float(row["max_days"]) if answered else None,
        }
    return times


async def supplier_ranking(
    filters: AnalyticsFilters, rates: list[dict[str, Any]] | None = None, overall_row: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Suppliers by after-sales rate, worst first, with the flag where the interval clears the overall rate."""
    overall = (overall_row or await overall_rate(filters))["rate"]
    rates = rates if rates is not None else await rates_by(filters, "supplier")
    acceptance = await supplier_acceptance(filters)
    answers = await supplier_answer_times(filters)
    money = await recovered_money(filters)
    names = await display_names(Supplier, [row["key"] for row in rates])
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
    names = await display_names(table, [row["key"] for row in rows]) if table is not None else {}
    for row in rows:
        row["name"] = names.get(row["key"], str(row["key"])) if table is not None else str(row["key"] or "—")
        row["significantly_above"] = overall is not None and row["units"] > 0 and row["low"] > overall
    rows.sort(key=lambda row: (-(row["rate"] or 0), row["name"]))
    return rows


# --- case lists for the report -------------------------------------------------------------------------------


def _overdue_where(filters: AnalyticsFilters, now: datetime) -> Where:
    # Past due at `now` and not finished by then: the report asks as of the month's last moment.
    where = Where()
    where.add("(sd.finished_at IS NULL OR sd.finished_at > {}) AND sd.due_at < {}", now, now)
    where.add(f"c.node NOT IN {OPEN_NODES_SQL}")
    case_filters(where, filters, cohort=False)
    return where


async def overdue_cases(
    filters: AnalyticsFilters, *, now: datetime | None = None, limit: int | None = 50
) -> list[dict[str, Any]]:
    """Open stage deadlines already past, on cases matching the filters (whenever reported)."""
    where = _overdue_where(filters, now or datetime.now(UTC))
    tail = f" LIMIT {int(limit)}" if limit else ""
    rows = await raw(
        "SELECT c.number AS number, c.problem_type AS problem_type, c.node AS node, sd.owner_party AS party, "
        'sd.due_at AS due_at FROM stage_deadline sd JOIN after_sales_case c ON c.id = sd."case" '
        f"{product_join(filters)}WHERE {where.sql()} ORDER BY sd.due_at{tail}",
        where.args,
    )
    return rows


async def disputed_cases(filters: AnalyticsFilters, *, limit: int = 50) -> list[dict[str, Any]]:
    where = Where()
    where.add("c.node = 'disputed'")
    case_filters(where, filters, cohort=False)
    return await raw(
        "SELECT c.number AS number, c.problem_type AS problem_type, c.node_entered_at AS since, "
        f"s.name AS supplier FROM after_sales_case c {product_join(filters)}"
        f"LEFT JOIN supplier s ON s.id = c.supplier WHERE {where.sql()} ORDER BY c.node_entered_at LIMIT {int(limit)}",
        where.args,
    )


# --- the whole summary ----------------------------------------------------------------------------------------


async def summary(filters: AnalyticsFilters) -> dict[str, Any]:
    """Everything the dashboard shows, as plain JSON-ready data."""
    async with one_read():
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
