"""The monthly report: key figures against last month, charts, rankings, open trouble, as a WeasyPrint PDF."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment

from app.analytics import actions, charts, control, figures, scorecard
from app.analytics.dashboard import chart_set, drift_charts
from app.analytics.filters import AnalyticsFilters, month_bounds
from app.analytics.taxonomy import ROOT_CAUSES, VERDICTS
from app.cases.taxonomy import PROBLEM_TYPES


class ReportError(Exception):
    """The report cannot be made as it must be (e.g. no font that draws Chinese)."""


def previous_month(today: date) -> str:
    return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def cjk_fonts() -> list[str]:
    """Font files fontconfig offers for Chinese; empty means CJK text would print as empty boxes."""
    try:
        # fontconfig is what WeasyPrint itself asks for fonts, so its answer is the one that counts.
        command = ["fc-list", ":lang=zh", "file"]
        found = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False).stdout  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return []
    return sorted({line.strip().rstrip(":") for line in found.splitlines() if line.strip()})


def require_cjk_font() -> None:
    if not cjk_fonts():
        raise ReportError(
            "No font for Chinese text was found (fc-list :lang=zh is empty). "
            "Install one, e.g. apt-get install fonts-noto-cjk, then make the report again."
        )


def month_end(last_day: date) -> datetime:
    """The first moment after the month, on the company's clock."""
    from app.i18n import company_zone

    return datetime.combine(last_day + timedelta(days=1), time(), tzinfo=ZoneInfo(company_zone())).astimezone(UTC)


def _figure(name: str, now: Any, before: Any) -> dict[str, Any]:
    return {"name": name, "now": now, "before": before}


async def report_context(month: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything the report prints for a calendar month 'YYYY-MM'."""
    from app.i18n import gettext as _

    try:
        start, end = month_bounds(month)
    except ValueError:
        raise ReportError(f"The month must look like 2026-05, not {month!r}.") from None
    filters = AnalyticsFilters(start=start, end=end)
    last = filters.shifted_month_back()
    summary = await figures.summary(filters)
    before = await figures.case_totals(last)
    before_rate = await figures.overall_rate(last)
    # Overdue is a state, so the report takes it at the month's last moment (or now, for the running month).
    as_of = min(month_end(end), now or datetime.now(UTC))
    overdue_now = await figures.overdue_count(filters, now=as_of)
    overdue_before = await figures.overdue_count(last, now=month_end(last.end))
    headline = [
        _figure(_("Cases reported"), summary["totals"]["cases"], before["cases"]),
        {**_figure(_("After-sales rate"), summary["rate"]["rate"], before_rate["rate"]), "percent": True},
        _figure(_("Still open (reported this month)"), summary["totals"]["open"], before["open"]),
        _figure(_("Disputed (reported this month)"), summary["totals"]["disputed"], before["disputed"]),
        _figure(_("Past a deadline at month end (opened any time)"), overdue_now, overdue_before),
    ]
    key_figures = [
        _figure(_("Cases reported"), summary["totals"]["cases"], before["cases"]),
        _figure(_("Units affected"), summary["totals"]["affected"], before["affected"]),
        _figure(_("Units delivered"), summary["rate"]["units"], before_rate["units"]),
        _figure(_("After-sales rate"), summary["rate"]["rate"], before_rate["rate"]),
        _figure(_("Still open"), summary["totals"]["open"], before["open"]),
        _figure(_("Disputed"), summary["totals"]["disputed"], before["disputed"]),
    ]
    # The report's trend looks back half a year, so one month has something to be compared with.
    trend_start = start
    for _month in range(5):
        trend_start = (trend_start - timedelta(days=1)).replace(day=1)
    drift = await control.supplier_drift(filters)
    trend = await figures.monthly_trend(AnalyticsFilters(start=trend_start, end=end))
    svgs = drift_charts(drift) | chart_set({**summary, "trend": trend})
    return {
        "month": month,
        "previous": last.start.strftime("%Y-%m"),
        "generated_at": now or datetime.now(UTC),  # shown on the company's clock
        "summary": summary,
        "figures": key_figures,
        "charts": {name: charts.data_uri(svg) for name, svg in svgs.items()},
        "scorecards": await scorecard.scorecards(filters),
        "drift": drift,
        "headline": headline,
        "as_of": as_of,
        "overdue_total": overdue_now,
        "overdue": await figures.overdue_cases(filters, now=as_of, limit=40),
        "disputed": await figures.disputed_cases(filters, limit=40),
        "actions": await actions.action_list(),
        "problem_types": PROBLEM_TYPES,
        "root_causes": ROOT_CAUSES,
        "verdicts": VERDICTS,
        "empty": summary["totals"]["cases"] == 0,
    }


def render_html(environment: Environment, context: dict[str, Any]) -> str:
    return environment.get_template("pdf/monthly.html").render(**context)


def html_to_pdf(html: str) -> bytes:
    from app.pdf import html_to_pdf as render

    return render(html)


async def monthly_pdf(environment: Environment, month: str, *, now: datetime | None = None) -> bytes:
    """The PDF bytes, rendered with the caller's Jinja environment; WeasyPrint runs in a thread."""
    require_cjk_font()
    html = render_html(environment, await report_context(month, now=now))
    return await asyncio.to_thread(html_to_pdf, html)
