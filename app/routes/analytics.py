"""The dashboard, its JSON summary, the monthly PDF, root causes, corrective actions and recoveries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery, QueryParameter

from app.accounts.roles import DESK, STAFF
from app.analytics import dashboard, selectors
from app.errors import ValidationFailed
from app.i18n import gettext as _
from app.web.pages import render


def today_utc() -> date:
    return datetime.now(UTC).date()


def filters_from(
    *,
    start: str,
    end: str,
    supplier: str = "",
    carrier: str = "",
    product: str = "",
    category: str = "",
    region: str = "",
    problem_type: str = "",
) -> selectors.AnalyticsFilters:
    return selectors.parse_filters(
        today=today_utc(),
        start=start,
        end=end,
        supplier=supplier,
        carrier=carrier,
        product=product,
        category=category,
        region=region,
        problem_type=problem_type,
    )


class DashboardController(Controller):
    path = "/dashboard"

    @get("/", opt={"roles": DESK}, name="dashboard")
    async def dashboard(
        self,
        request: Request[Any, Any, Any],
        start: Annotated[str, QueryParameter(query="from")] = "",
        end: Annotated[str, QueryParameter(query="to")] = "",
        supplier: FromQuery[str] = "",
        carrier: FromQuery[str] = "",
        product: FromQuery[str] = "",
        category: FromQuery[str] = "",
        region: FromQuery[str] = "",
        problem_type: FromQuery[str] = "",
    ) -> Any:
        filters = filters_from(
            start=start,
            end=end,
            supplier=supplier,
            carrier=carrier,
            product=product,
            category=category,
            region=region,
            problem_type=problem_type,
        )
        context = await dashboard.dashboard_context(filters, today=today_utc())
        return render(request, "analytics/dashboard.html", context, block="figures")

    @get("/report.pdf", opt={"roles": DESK}, name="dashboard_report")
    async def report(self, month: FromQuery[str] = "") -> Response[bytes]:
        from app.analytics.report import monthly_pdf, previous_month

        month = month or previous_month(today_utc())
        try:
            selectors.month_bounds(month)
        except ValueError:
            raise ValidationFailed(
                _("Choose a month like 2026-05."), fields=[("month", _("Choose a month like 2026-05."))]
            ) from None
        pdf = await monthly_pdf(month)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="crossclaim-{month}.pdf"'},
        )


class AnalyticsApiController(Controller):
    path = "/api/v1/analytics"
    tags = ["analytics"]

    @get("/summary", opt={"roles": STAFF}, summary="The dashboard's figures for a period")
    async def summary(
        self,
        start: Annotated[str, QueryParameter(query="from")] = "",
        end: Annotated[str, QueryParameter(query="to")] = "",
        supplier: FromQuery[str] = "",
        carrier: FromQuery[str] = "",
        category: FromQuery[str] = "",
        region: FromQuery[str] = "",
        problem_type: FromQuery[str] = "",
    ) -> dict[str, Any]:
        filters = filters_from(
            start=start,
            end=end,
            supplier=supplier,
            carrier=carrier,
            category=category,
            region=region,
            problem_type=problem_type,
        )
        return await selectors.summary(filters)
