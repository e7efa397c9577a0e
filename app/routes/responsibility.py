"""Responsibility hints over HTTP: the engine as a JSON API, and the hint region of the case page."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, Response, post
from litestar.params import FromPath
from litestar.response import Redirect

from app.accounts.roles import DESK
from app.cases import responsibility, selectors
from app.errors import ValidationFailed
from app.i18n import gettext as _
from app.rules import FACTS, FactsError, RuleRegistry, suggest
from app.web.auth import actor_for
from app.web.forms import FORM
from app.web.hints import hint_view, today_utc
from app.web.openapi import FactsOperation, error_responses
from app.web.pages import render, wants_fragment

# A facts object is a few hundred bytes; this leaves room for comments and indentation, not for abuse.
MAX_FACTS_BODY = 64 * 1024
HINT_TEMPLATE = "cases/_hint.html"


def registry_of(request: Request[Any, Any, Any]) -> RuleRegistry:
    """The rules `create_app` loaded at start."""
    registry: RuleRegistry = request.app.state.rules
    return registry


def fields_of(error: FactsError) -> list[tuple[str, str]]:
    # The engine names a problem with the facts as a whole with an empty field; the API calls it "facts".
    return [(name or "facts", message) for name, message in error.errors]


def facts_from_form(form: Mapping[str, Any]) -> dict[str, Any]:
    """The facts a form sent: "" means unknown, yes/no are booleans; anything else is left for validation."""
    facts: dict[str, Any] = {}
    for name, spec in FACTS.items():
        if name not in form:
            continue
        value = str(form[name]).strip()
        if spec.kind == "bool":
            facts[name] = {"yes": True, "no": False, "": None}.get(value, value)
        else:
            facts[name] = value or None
    return facts


class RulesApiController(Controller):
    path = "/api/v1/rules"
    tags = ["rules"]

    @post(
        "/suggest",
        opt={"roles": DESK},
        status_code=200,
        request_max_body_size=MAX_FACTS_BODY,
        operation_class=FactsOperation,
        responses=error_responses(413, 422),
        summary="Suggest the responsible party for a set of facts",
        description=(
            "The body is a JSON object of facts, the same as `crossclaim rules suggest FILE.json` reads; the answer "
            "is the engine's suggestion (party, confidence, basis, deadlines, missing facts, warnings) as of today's "
            "UTC date. Invalid facts or malformed JSON answer 422 with the fields named."
        ),
    )
    async def suggest_party(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        body = await request.body()
        try:
            raw = json.loads(body)
        except json.JSONDecodeError as error:
            where = _("line %(line)s, column %(column)s", line=error.lineno, column=error.colno)
            raise ValidationFailed(
                _("The body is not valid JSON."), fields=[("body", f"{where}: {error.msg}")]
            ) from None
        except (ValueError, RecursionError):  # not UTF-8 or nested beyond reason
            raise ValidationFailed(
                _("The body is not valid JSON."), fields=[("body", _("Send a JSON object of facts in UTF-8."))]
            ) from None
        try:
            result = suggest(raw, today=today_utc(), registry=registry_of(request))
        except FactsError as error:
            raise ValidationFailed(_("Some facts are not valid."), fields=fields_of(error)) from None
        return result.to_dict()


@dataclass
class SettleForm:
    party: str = ""
    reason: str = ""


class CaseHintController(Controller):
    """The hint region of a case page: each action answers the region again (htmx) or the page (no script)."""

    path = "/cases"

    @post("/{number:str}/facts", opt={"roles": DESK}, status_code=200, name="case_facts")
    async def facts_save(self, request: Request[Any, Any, Any], number: FromPath[str]) -> Response[Any]:
        # Raw form: its keys are the fact names the rules ask about, not a fixed set of fields.
        form = await request.form()
        try:
            await responsibility.facts_update(
                actor=actor_for(request),
                number=number,
                facts=facts_from_form(form),
                today=today_utc(),
                registry=registry_of(request),
            )
        except ValidationFailed as error:
            if not wants_fragment(request):
                raise
            submitted = {name: str(form[name]) for name in FACTS if name in form}
            return await _region(request, number, errors=dict(error.fields), submitted=submitted, status_code=422)
        return await _answer(request, number, notice=_("Facts saved; the hint was worked out again."))

    @post("/{number:str}/responsibility", opt={"roles": DESK}, status_code=200, name="case_responsibility")
    async def party_settle(
        self, request: Request[Any, Any, Any], number: FromPath[str], data: Annotated[SettleForm, FORM]
    ) -> Response[Any]:
        reason = data.reason
        try:
            await responsibility.party_confirm(actor=actor_for(request), number=number, party=data.party, reason=reason)
        except ValidationFailed as error:
            if not wants_fragment(request):
                raise
            return await _region(request, number, errors=dict(error.fields), reason=reason, status_code=422)
        return await _answer(request, number, notice=_("Decision recorded."))

    @post("/{number:str}/hint", opt={"roles": DESK}, status_code=200, name="case_hint_refresh")
    async def hint_recompute(self, request: Request[Any, Any, Any], number: FromPath[str]) -> Response[Any]:
        case = await selectors.case_get(number)
        await responsibility.hint_refresh(
            case_id=case.id, actor=actor_for(request), today=today_utc(), registry=registry_of(request)
        )
        return await _answer(request, number, notice=_("The hint was worked out again."))


async def _region(
    request: Request[Any, Any, Any],
    number: str,
    *,
    notice: str = "",
    errors: Mapping[str, str] | None = None,
    submitted: Mapping[str, str] | None = None,
    reason: str = "",
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response[Any]:
    case = await selectors.case_get(number)
    context = {
        "case": case,
        "hint_view": hint_view(request, case, errors=errors, submitted=submitted),
        "hint_notice": notice,
        "hint_reason": reason,
        "next_step": await responsibility.next_step(case),
    }
    return render(request, HINT_TEMPLATE, context, status_code=status_code, headers=headers)


async def _answer(request: Request[Any, Any, Any], number: str, *, notice: str) -> Response[Any]:
    if not wants_fragment(request):
        case = await selectors.case_get(number)
        return Redirect(path=f"/cases/{case.number}", status_code=303)
    # Other regions (the timeline) listen for this and fetch themselves again.
    return await _region(request, number, notice=notice, headers={"HX-Trigger": "case-changed"})
