"""What the dashboard page shows: the summary, its charts, and a case-list link behind every number."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from app.analytics import actions, charts, control, figures, scorecard
from app.analytics.filters import AnalyticsFilters, filter_choices, products_of
from app.analytics.taxonomy import category_label
from app.cases.taxonomy import PARTIES, PROBLEM_TYPES
from app.i18n import gettext as _

# Which case-list parameter narrows to one row of a dimension.
LINK_PARAMS = {
    "supplier": "supplier",
    "carrier": "carrier",
    "product": "product",
    "category": "category",
    "region": "region",
}


def cases_url(filters: AnalyticsFilters, *, cohort: bool = False, **extra: Any) -> str:
    return "/cases?" + urlencode(filters.case_link(cohort=cohort, **extra))


def chart_set(summary: dict[str, Any]) -> dict[str, str]:
    """The dashboard's and the report's charts, as SVG text."""
    problem_labels = {key: str(label) for key, label in PROBLEM_TYPES.items()}
    overall = summary["rate"]["rate"]
    return {
        "pareto": charts.pareto(
            summary["problem_types"],
            labels=problem_labels,
            title=_("Cases by problem type"),
            cases=_("Cases"),
            cumulative=_("Cumulative share (%)"),
        ),
        "trend": charts.trend(
            summary["trend"], title=_("Cases and after-sales rate per month"), cases=_("Cases"), rate=_("Rate (%)")
        ),
        "suppliers": charts.rates(
            summary["by"]["supplier"],
            title=_("After-sales rate by supplier"),
            overall=overall,
            overall_label=_("overall"),
            flagged=_("significantly above"),
        ),
        "carriers": charts.rates(
            summary["by"]["carrier"],
            title=_("After-sales rate by carrier"),
            overall=overall,
            overall_label=_("overall"),
            flagged=_("significantly above"),
        ),
    }


def drift_charts(drift: list[dict[str, Any]], *, most: int = 3) -> dict[str, str]:
    """A p-chart for each drifting supplier (the first few), keyed drift-<supplier id>."""
    return {
        f"drift-{row['key']}": charts.p_chart(
            row["series"],
            title=f"{row['name']} · " + _("monthly rate against its own limits"),
            centre=row["centre"],
            rate=_("Rate (%)"),
            upper=_("Upper limit"),
            level=_("Own level"),
        )
        for row in drift[:most]
        if row["drifting"]
    }


async def dashboard_context(filters: AnalyticsFilters, *, today: date) -> dict[str, Any]:
    summary = await figures.summary(filters)
    for dimension, rows in summary["by"].items():
        for row in rows:
            row["cases_url"] = cases_url(filters, cohort=True, **{LINK_PARAMS[dimension]: row["key"]})
    for row in summary["by"]["category"]:
        row["name"] = category_label(row["key"])
    for row in summary["problem_types"]:
        row["cases_url"] = cases_url(filters, problem_type=row["problem_type"])
    for row in summary["suppliers"]:
        row["cases_url"] = cases_url(filters, supplier=row["key"])
        row["workspace_url"] = "/dashboard/root-causes?" + urlencode(
            {"supplier": row["key"], "from": filters.start.isoformat(), "to": filters.end.isoformat()}
        )
    for row in summary["cycle_times"]:
        row["cases_url"] = cases_url(filters)
    svgs = chart_set(summary)
    drift = await control.supplier_drift(filters)
    svgs.update(drift_charts(drift))
    return {
        "summary": summary,
        "filters": filters,
        "choices": await filter_choices(),
        "charts": {name: charts.data_uri(svg) for name, svg in svgs.items()},
        "scorecards": await scorecard.scorecards(filters),
        "drift": drift,
        "links": {
            "cases": cases_url(filters),
            "open": cases_url(filters, node="open"),
            "disputed": cases_url(filters, node="disputed"),
            "rate": cases_url(filters, cohort=True),
        },
        "problem_types": PROBLEM_TYPES,
        "category_label": category_label,
        "parties": PARTIES,
        "dimension_labels": {
            "supplier": _("Supplier"),
            "carrier": _("Carrier"),
            "category": _("Category"),
            "region": _("Region"),
            "product": _("Product"),
        },
        "report_month": f"{today.year - (today.month == 1)}-{(today.month - 2) % 12 + 1:02d}",
    }


async def workspace_context(filters: AnalyticsFilters) -> dict[str, Any]:
    """The root-cause workspace: a flagged supplier's (or product's, carrier's) cases by type and cause."""
    from app.analytics import root_causes
    from app.analytics.taxonomy import ACTION_STATUSES, ROOT_CAUSES, VERDICTS
    from app.cases import selectors as case_selectors
    from app.cases.tables import Case

    case_filters = case_selectors.CaseFilters(
        problem_type=filters.problem_type,
        supplier_id=filters.supplier_id,
        carrier_id=filters.carrier_id,
        product_id=filters.product_id,
        created_from=filters.start,
        created_to=filters.end,
    )
    rows = await case_selectors.case_list(case_filters, limit=100)
    causes = {
        row["number"]: row["root_cause"]
        for row in await Case.select(Case.number, Case.root_cause).where(
            Case.number.is_in([row["number"] for row in rows] or [""])
        )
    }
    for row in rows:
        row["root_cause"] = causes.get(row["number"], "")
    scope = await figures.rates_by(filters, "all")
    return {
        "filters": filters,
        "query": urlencode(
            {
                key: value
                for key, value in {
                    "from": filters.start.isoformat(),
                    "to": filters.end.isoformat(),
                    "supplier": filters.supplier_id or "",
                    "carrier": filters.carrier_id or "",
                    "product": filters.product_id or "",
                    "problem_type": filters.problem_type,
                }.items()
                if value
            }
        ),
        "rate": scope[0] if scope else None,
        "matrix": await actions.root_cause_matrix(filters),
        "groups": await root_causes.cause_groups(filters),
        "cases": rows,
        "actions": await actions.action_list(),
        "choices": await filter_choices(),
        "products": await products_of(filters.supplier_id) if filters.supplier_id else [],
        "root_causes": ROOT_CAUSES,
        "statuses": ACTION_STATUSES,
        "verdicts": VERDICTS,
        "problem_types": PROBLEM_TYPES,
    }
