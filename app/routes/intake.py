"""The phone intake flow: the report form, its live order and fact fragments, and filing the report."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.to_thread
from jinja2_fragments.litestar import HTMXBlockTemplate
from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from app.accounts.roles import STAFF
from app.cases import selectors as case_selectors
from app.cases.tables import Case
from app.cases.taxonomy import PROBLEM_TYPES, URGENCIES
from app.errors import ValidationFailed
from app.evidence import selectors
from app.evidence.services import UPLOAD_BODY_LIMIT
from app.i18n import LANGUAGES, label
from app.i18n import gettext as _
from app.i18n import lazy_gettext as N_
from app.intake.report import IntakeReport, report_from_fields
from app.intake.submit import intake_submit
from app.playbooks import selectors as playbooks
from app.rules import FACTS, FactSpec, relevant_facts
from app.settings import Settings
from app.trade.orders import order_lookup, split_order_number
from app.web import dropped
from app.web.auth import actor_for
from app.web.pages import is_replay, render, wants_fragment
from app.web.uploads import (
    evidence_policy,
    evidence_store,
    fact_fields,
    read_form,
    refuse_oversized,
    text_fields,
    upload_limits,
    uploads_from_form,
)

EXPECTED_DAYS = (1, 3, 7, 14, 30)


# --- the intake page -------------------------------------------------------------------------------


def _choice_label(spec: FactSpec, choice: str) -> str:
    return choice if spec.name == "incoterm" else label(choice, "choice")


def facts_context(
    problem_type: str,
    values: Mapping[str, str] | None = None,
    *,
    transport_mode: str | None = None,
    asked: Sequence[tuple[str, str, bool]] = (),
) -> dict[str, Any]:
    """The fact questions and evidence checklist for one problem type (only general ones before it is chosen)
    and, once the order is known, its transport mode (no sea convention question for a road order)."""
    chosen = problem_type if problem_type in PROBLEM_TYPES else None
    specs = [spec for spec in relevant_facts(chosen, transport_mode or None) if spec.name != "problem_type"]
    questions = [
        {
            "name": spec.name,
            "kind": spec.kind,
            "question": _(spec.question),
            "general": spec.problem_types == FACTS["problem_type"].problem_types,
            "choices": [(choice, _choice_label(spec, choice)) for choice in spec.choices],
        }
        for spec in specs
    ]
    # What can be seen at the dock is asked openly; dates, notices and terms are office knowledge,
    # folded away (the order fills the terms, and handlers complete the rest on the case).
    at_the_dock = [q for q in questions if not q["general"] and q["kind"] in ("bool", "enum")]
    return {
        "problem_type": chosen or "",
        "specific_facts": at_the_dock,
        "general_facts": [q for q in questions if q not in at_the_dock],
        "fact_values": dict(values or {}),
        "checklist": selectors.checklist(chosen, extra=asked) if chosen else [],
        "today": datetime.now(UTC).date().isoformat(),
    }


# Shown next to a field's error; lazy, so each request reads them in its own language.
FIELD_LABELS = {
    "order_number": N_("Order number"),
    "order_line": N_("Order line"),
    "product_sku": N_("Product SKU"),
    "problem_type": N_("Problem type"),
    "quantity_affected": N_("Quantity affected"),
    "description": N_("What happened"),
    "customer_name": N_("Customer name"),
    "customer_email": N_("Customer email"),
    "customer_phone": N_("Customer phone"),
    "customer_language": N_("Customer language"),
    "region": N_("Region"),
    "urgency": N_("Urgency"),
    "expected_days": N_("Expected handling time"),
    "evidence": N_("Photos and videos"),
    "evidence_covers": N_("What a photo shows"),
    "Idempotency-Key": N_("Report key"),
}


def field_label(name: str) -> str:
    if name.startswith("facts.") and name[6:] in FACTS:
        return _(FACTS[name[6:]].question)
    label = FIELD_LABELS.get(name)
    return str(label) if label is not None else name


def intake_context(
    *, values: Mapping[str, str] | None = None, errors: list[tuple[str, str]] | None = None, message: str = ""
) -> dict[str, Any]:
    values = dict(values or {})
    return {
        "values": values,
        "client_key": values.get("client_key") or str(uuid.uuid4()),
        "errors": [(name, field_label(name), text) for name, text in errors or []],
        "error_fields": {name for name, _text in errors or []},
        "error_message": message,
        "problem_types": PROBLEM_TYPES,
        "urgencies": URGENCIES,
        "customer_languages": LANGUAGES,
        "expected_days": EXPECTED_DAYS,
        **upload_limits(),
        **facts_context(values.get("problem_type", ""), fact_fields(values)),
    }


class IntakeController(Controller):
    """Report a problem: one page, two live fragments, one post through the intake service."""

    path = "/intake"

    @get("/", opt={"roles": STAFF}, name="intake")
    async def intake_page(self, request: Request[Any, Any, Any], problem_type: FromQuery[str] = "") -> Template:
        return render(request, "intake/form.html", intake_context(values={"problem_type": problem_type}))

    @get("/order", opt={"roles": STAFF}, name="intake_order")
    async def order_details(self, request: Request[Any, Any, Any], order_number: FromQuery[str] = "") -> Template:
        order = await order_lookup(order_number[:80])
        _number, line = split_order_number(order_number[:80])
        values = {"order_number": order_number[:80], "order_line": str(line or "")}
        context = {"order": order, "order_number": order_number[:80], "values": values}
        if not wants_fragment(request):
            # Opened directly (no script): the whole form, with the order already looked up.
            context = {**intake_context(values=values), "order": order, "order_number": order_number[:80]}
        return render(request, "intake/form.html", context, block="order_details")

    @get("/facts", opt={"roles": STAFF}, name="intake_facts")
    async def facts(
        self, request: Request[Any, Any, Any], problem_type: FromQuery[str] = "", order_number: FromQuery[str] = ""
    ) -> Template:
        order = await order_lookup(order_number[:80]) if order_number.strip() else None
        mode = order.transport_mode if order is not None else None
        # The order's supplier may ask for more than the rules do: its playbook's items join the checklist.
        asked = await playbooks.required_items(order.supplier_id, problem_type) if order is not None else []
        context = {**facts_context(problem_type, transport_mode=mode, asked=asked), "oob": True}
        if not wants_fragment(request):
            return render(request, "intake/form.html", intake_context(values={"problem_type": problem_type}))
        # The checklist lives beside the camera button, away from the facts: it comes along out of band.
        return HTMXBlockTemplate(
            template_name="intake/form.html",
            block_names=["facts", "checklist"],
            context=context,
            headers={"Vary": "HX-Request"},
        )

    @post(
        "/",
        opt={"roles": STAFF},
        name="intake_submit",
        request_max_body_size=UPLOAD_BODY_LIMIT,
        status_code=201,
    )
    async def submit(self, request: Request[Any, Any, Any]) -> Response[Any]:
        refuse_oversized(request)
        # Raw form: photos, fact answers under their rules' names, and a refusal that re-renders it as typed.
        form = await read_form(request)
        values = text_fields(form)
        try:
            report = report_from_fields(values, fact_fields(form))
            alike = await self._alike(request, report, values)
            if alike:
                return self._alike_warning(request, values, alike)
            uploads = await uploads_from_form(form)
            result = await intake_submit(
                actor=actor_for(request),
                report=report,
                uploads=uploads,
                client_key=values.get("client_key"),
                store=evidence_store(request),
                policy=evidence_policy(request),
            )
        except ValidationFailed as error:
            return self._refused(request, values, error)
        settings: Settings = request.app.state.settings
        if settings.test_hooks and (held := dropped.stall_intake_seconds()):
            await anyio.sleep(held)
        if settings.test_hooks and dropped.drop_intake_response_armed():
            return dropped.dropped_response()
        target = f"/cases/{result.case.number}?reported={'new' if result.created else 'again'}"
        if is_replay(request):
            # The queue only needs to know the report is filed: 201 for a new case, 200 when it was already.
            return Response(b"", status_code=201 if result.created else 200, headers={"Location": target})
        if wants_fragment(request):
            # The page's script navigates; 201 for a new case, 200 when this report was already filed.
            return Response(None, status_code=201 if result.created else 200, headers={"HX-Redirect": target})
        return Redirect(path=target, status_code=303)

    async def _alike(
        self, request: Request[Any, Any, Any], report: IntakeReport, values: dict[str, str]
    ) -> list[dict[str, Any]]:
        """Open cases that look like this report (same order, same problem, lately), unless the person
        already chose to file it anyway, the phone's queue is replaying it (it was sent, offline, on
        purpose), or this very report was filed already (the same key answers with its case)."""
        if values.get("confirm_new") == "1" or is_replay(request):
            return []
        key = values.get("client_key") or ""
        if key and await Case.exists().where(Case.client_key == key):
            return []
        return await case_selectors.recent_alike(
            order_number=report.order_number, problem_type=report.problem_type, now=datetime.now(UTC)
        )

    def _alike_warning(
        self, request: Request[Any, Any, Any], values: dict[str, str], alike: list[dict[str, Any]]
    ) -> Template:
        """409: the form stays as it is, photos and all, with the alike cases and the two ways on."""
        context = intake_context(values=values, message=_("This problem may already be reported."))
        context["alike"] = alike
        return _form_again(request, context, status_code=409)

    def _refused(self, request: Request[Any, Any, Any], values: dict[str, str], error: ValidationFailed) -> Template:
        message = error.message
        key_used = any(name == "Idempotency-Key" for name, _text in error.fields)
        if key_used:
            # This page already filed a report and the form changed since: a new key lets the changed
            # report be sent as a new case, deliberately, instead of failing the same way forever.
            values = {name: value for name, value in values.items() if name != "client_key"}
            message = _(
                "This report was already sent before these changes. Send again to file it as a new case, "
                "or find the first one in the case list."
            )
        fields = [(name, text) for name, text in error.fields if name != "Idempotency-Key"]
        context = intake_context(values=values, errors=fields, message=message)
        context["new_client_key"] = key_used
        return _form_again(request, context, status_code=422)


def _form_again(request: Request[Any, Any, Any], context: dict[str, Any], *, status_code: int) -> Template:
    """The intake form answered again with its summary: for htmx only the summary is swapped, so the
    chosen photos stay in the page, ready to send again; a replay gets the summary alone, as its reason."""
    if wants_fragment(request) or is_replay(request):
        return HTMXBlockTemplate(
            template_name="intake/form.html",
            block_name="error_summary",
            context=context,
            status_code=status_code,
            headers={"Vary": "HX-Request", "HX-Retarget": "#intake-errors", "HX-Reswap": "innerHTML"},
        )
    return render(request, "intake/form.html", context, status_code=status_code)
