"""The dashboard, its JSON summary, the monthly PDF, root causes, corrective actions and recoveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from app.accounts.roles import DESK
from app.analytics import dashboard, figures, recovery, root_causes, services
from app.analytics.filters import AnalyticsFilters, month_bounds, parse_filters
from app.analytics.taxonomy import RECOVERY_KINDS, RECOVERY_PARTIES, ROOT_CAUSES
from app.errors import ValidationFailed
from app.i18n import gettext as _
from app.web.auth import actor_for
from app.web.forms import FORM
from app.web.openapi import error_responses
from app.web.pages import render, wants_fragment
from app.web.templates import request_environment


def today_utc() -> date:
    return datetime.now(UTC).date()


async def analytics_filters(
    start: Annotated[str, QueryParameter(query="from", description="First day, YYYY-MM-DD")] = "",
    end: Annotated[str, QueryParameter(query="to", description="Last day, YYYY-MM-DD")] = "",
    supplier: Annotated[str, QueryParameter(description="Supplier id")] = "",
    carrier: Annotated[str, QueryParameter(description="Carrier id")] = "",
    product: Annotated[str, QueryParameter(description="Product id")] = "",
    category: Annotated[str, QueryParameter(description="Product category")] = "",
    region: Annotated[str, QueryParameter(description="Region")] = "",
    problem_type: Annotated[str, QueryParameter(description="Problem type code")] = "",
) -> AnalyticsFilters:
    """The period and filters every analytics page and the summary API read from the query string."""
    return parse_filters(
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


FILTERS = {"filters": Provide(analytics_filters)}


@dataclass
class CaseCauseForm:
    root_cause: str = ""
    next: str = ""  # where the whole page goes back to (only into the workspace)


@dataclass
class GroupCauseForm:
    group_supplier: str = ""  # a supplier id; anything else is no supplier
    group_problem_type: str = ""
    root_cause: str = ""
    action: str = ""
    new_action: str = ""


@dataclass
class ActionForm:
    root_cause: str = ""
    action: str = ""
    supplier: str = ""
    product: str = ""
    carrier: str = ""
    due_on: str = ""
    started_on: str = ""
    check_after_days: str = "90"


@dataclass
class RecoveryForm:
    case: str = ""
    party: str = ""
    kind: str = ""
    claimed: str = ""
    recovered: str = ""
    currency: str = ""
    claimed_on: str = ""
    recovered_on: str = ""


class DashboardController(Controller):
    path = "/dashboard"

    @get("/", opt={"roles": DESK}, name="dashboard", dependencies=FILTERS)
    async def dashboard(self, request: Request[Any, Any, Any], filters: AnalyticsFilters) -> Template:
        context = await dashboard.dashboard_context(filters, today=today_utc())
        return render(request, "analytics/dashboard.html", context, block="figures")

    @get("/report.pdf", opt={"roles": DESK}, name="dashboard_report")
    async def report(self, request: Request[Any, Any, Any], month: FromQuery[str] = "") -> Response[bytes]:
        from app.analytics.report import monthly_pdf, previous_month

        month = month or previous_month(today_utc())
        try:
            month_bounds(month)
        except ValueError:
            raise ValidationFailed(
                _("Choose a month like 2026-05."), fields=[("month", _("Choose a month like 2026-05."))]
            ) from None
        pdf = await monthly_pdf(request_environment(request), month)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="crossclaim-{month}.pdf"'},
        )


def _optional_id(text: str) -> int | None:
    return int(text) if text.isdecimal() else None


def _optional_date(text: str, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(
            _("Use a date like 2026-05-31."), fields=[(field, _("Use a date like 2026-05-31."))]
        ) from None


class RootCauseController(Controller):
    path = "/dashboard"

    @get("/root-causes", opt={"roles": DESK}, name="root_causes", dependencies=FILTERS)
    async def workspace(self, request: Request[Any, Any, Any], filters: AnalyticsFilters) -> Template:
        context = await dashboard.workspace_context(filters)
        return render(request, "analytics/root_causes.html", context, block="workspace")

    @post("/root-causes/cases/{number:str}", opt={"roles": DESK}, status_code=200, name="case_root_cause")
    async def case_root_cause(
        self,
        request: Request[Any, Any, Any],
        number: FromPath[str],
        data: Annotated[CaseCauseForm, FORM],
    ) -> Response[Any]:
        actor = actor_for(request)
        cause = await root_causes.case_root_cause_set(actor=actor, number=number, root_cause=data.root_cause)
        if not wants_fragment(request):
            back = data.next
            # Only back into the workspace: a form field must not send anyone elsewhere.
            if not back.startswith("/dashboard/root-causes"):
                back = "/dashboard/root-causes"
            return Redirect(path=back, status_code=303)
        return render(
            request,
            "analytics/_root_cause_cell.html",
            {"number": number, "current": cause, "root_causes": ROOT_CAUSES, "saved": True},
        )

    @post("/root-causes/groups", opt={"roles": DESK}, status_code=200, name="group_root_cause", dependencies=FILTERS)
    async def group_root_cause(
        self,
        request: Request[Any, Any, Any],
        filters: AnalyticsFilters,
        data: Annotated[GroupCauseForm, FORM],
    ) -> Template:
        """One group's control: the cause (and corrective action) for all its cases still without a cause."""
        supplier = data.group_supplier
        outcome = await root_causes.group_root_cause_set(
            actor=actor_for(request),
            filters=filters,
            supplier_id=int(supplier) if supplier.isdecimal() else None,
            problem_type=data.group_problem_type,
            root_cause=data.root_cause,
            action=data.action,
            new_action=data.new_action,
            owner_id=request.user.id,
            today=today_utc(),
        )
        context = {**await dashboard.workspace_context(filters), "causes_set": outcome}
        return render(request, "analytics/root_causes.html", context, block="workspace")

    @post("/actions", opt={"roles": DESK}, status_code=303, name="corrective_action_create")
    async def action_create(self, request: Request[Any, Any, Any], data: Annotated[ActionForm, FORM]) -> Redirect:
        days = data.check_after_days
        action = await services.corrective_action_create(
            root_cause=data.root_cause,
            action=data.action,
            supplier_id=_optional_id(data.supplier),
            product_id=_optional_id(data.product),
            carrier_id=_optional_id(data.carrier),
            owner_id=request.user.id,
            due_on=_optional_date(data.due_on, "due_on"),
            started_on=_optional_date(data.started_on, "started_on"),
            check_after_days=int(days) if days.isdecimal() else 0,
            today=today_utc(),
        )
        return Redirect(path=f"/dashboard/root-causes#action-{action.id}", status_code=303)

    @post("/actions/{action_id:int}/check", opt={"roles": DESK}, status_code=303, name="corrective_action_check")
    async def action_check(self, action_id: FromPath[int]) -> Redirect:
        await services.effect_check(action_id=action_id, today=today_utc())
        return Redirect(path=f"/dashboard/root-causes#action-{action_id}", status_code=303)

    @get("/recoveries", opt={"roles": DESK}, name="recovery_ledger")
    async def recoveries(self, request: Request[Any, Any, Any]) -> Template:
        return render(request, "analytics/recoveries.html", await _ledger_context())

    @post("/recoveries", opt={"roles": DESK}, status_code=200, name="recovery_record")
    async def recovery_record(
        self, request: Request[Any, Any, Any], data: Annotated[RecoveryForm, FORM]
    ) -> Response[Any]:
        row = await services.recovery_record(
            actor=actor_for(request),
            number=data.case,
            party=data.party,
            kind=data.kind,
            claimed=data.claimed,
            recovered=data.recovered,
            currency=data.currency,
            claimed_on=data.claimed_on,
            recovered_on=data.recovered_on,
            today=today_utc(),
        )
        if not wants_fragment(request):
            return Redirect(path=f"/dashboard/recoveries#recovery-{row.id}", status_code=303)
        context = {**await _ledger_context(), "recorded": row.id}
        return render(request, "analytics/recoveries.html", context, block="ledger")


async def _ledger_context() -> dict[str, Any]:
    today = today_utc()
    return {
        "ledger": await recovery.recovery_ledger(today=today),
        "parties": RECOVERY_PARTIES,
        "kinds": RECOVERY_KINDS,
        "today": today.isoformat(),
    }


class AnalyticsApiController(Controller):
    path = "/api/v1/analytics"
    tags = ["analytics"]

    @get(
        "/summary",
        opt={"roles": DESK},
        summary="The dashboard's figures for a period",
        responses=error_responses(422),
        dependencies=FILTERS,
    )
    async def summary(self, filters: AnalyticsFilters) -> dict[str, Any]:
        return await figures.summary(filters)
