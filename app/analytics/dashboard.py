"""What the dashboard page shows: the summary, its charts, and a case-list link behind every number."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from app.analytics import charts, selectors
from app.analytics.selectors import AnalyticsFilters
from app.cases.taxonomy import PARTIES, PROBLEM_TYPES
from app.i18n import gettext as _

# Which case-list parameter narrows to one row of a dimension.
LINK_PARAMS = {"supplier": "supplier", "carrier": "carrier", "product": "product", "category": "category",
               "region": "region"}


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
            summary["by"]["supplier"], title=_("After-sales rate by supplier"), overall=overall,
            overall_label=_("overall"),
        ),
        "carriers": charts.rates(
            summary["by"]["carrier"], title=_("After-sales rate by carrier"), overall=overall,
            overall_label=_("overall"),
        ),
    }


async def dashboard_context(filters: AnalyticsFilters, *, today: date) -> dict[str, Any]:
    summary = await selectors.summary(filters)
    for dimension, rows in summary["by"].items():
        for row in rows:
            row["cases_url"] = cases_url(filters, cohort=True, **{LINK_PARAMS[dimension]: row["key"]})
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
    return {
        "summary": summary,
        "filters": filters,
        "choices": await selectors.filter_choices(),
        "charts": {name: charts.data_uri(svg) for name, svg in svgs.items()},
        "links": {
            "cases": cases_url(filters),
            "open": cases_url(filters),
            "disputed": cases_url(filters, node="disputed"),
            "rate": cases_url(filters, cohort=True),
        },
        "problem_types": PROBLEM_TYPES,
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
