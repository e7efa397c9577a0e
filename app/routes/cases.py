"""Staff pages for cases: the list with its filters, one case, and moving it between nodes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from markupsafe import Markup

from app.accounts.roles import CLAIM_FIGURES, DESK, STAFF
from app.cases import assignment, responsibility, selectors, services, states
from app.cases.taxonomy import PARTIES, PROBLEM_TYPES, REMEDIES, URGENCIES
from app.i18n import label
from app.web.auth import actor_for
from app.web.hints import hint_view, today_utc
from app.web.pages import render, wants_fragment
from app.web.render_cache import (
    RenderCache,
    forms_may_be_kept,
    reader_key,
    render_part,
    render_part_with_forms,
    with_token,
)


def labels() -> dict[str, Any]:
    """The words for codes, translated once per page (a row or cell would otherwise translate each)."""
    return {
        "problem_types": {code: str(word) for code, word in PROBLEM_TYPES.items()},
        "urgencies": {code: str(word) for code, word in URGENCIES.items()},
        "parties": {code: str(word) for code, word in PARTIES.items()},
        "remedies": {code: str(word) for code, word in REMEDIES.items()},
        "nodes": [node.value for node in states.Node],
        "node_labels": {node.value: label(node.value, "node") for node in states.Node},
        "main_line": [node.value for node in states.MAIN_LINE],
    }


@dataclass
class MoveForm:
    target: str = ""
    reason: str = ""


@dataclass
class AssignForm:
    assignee: str = ""  # a user id; empty gives the case to nobody


# The list's rendered results by data version, role, language, zone and filters (app/web/render_cache.py).
LIST_RESULTS = RenderCache(entries=128)
# A case page's main column (facts, hint, moves, timeline) by data version, reader, case and day; its
# forms' CSRF token is each reader's own (with_token).
CASE_MAIN = RenderCache(entries=256)


class CaseController(Controller):
    path = "/cases"

    @get("/", opt={"roles": STAFF}, name="case_list")
    async def case_list(
        self,
        request: Request[Any, Any, Any],
        node: FromQuery[str] = "",
        problem_type: FromQuery[str] = "",
        q: FromQuery[str] = "",
        before: FromQuery[int | None] = None,
        supplier: FromQuery[int | None] = None,
        carrier: FromQuery[int | None] = None,
        product: FromQuery[int | None] = None,
        category: FromQuery[str] = "",
        region: FromQuery[str] = "",
        created_from: FromQuery[date | None] = None,
        created_to: FromQuery[date | None] = None,
        delivered_from: FromQuery[date | None] = None,
        delivered_to: FromQuery[date | None] = None,
    ) -> Template:
        filters = selectors.CaseFilters(
            node=node,
            problem_type=problem_type,
            query=q[:200],
            before_id=before,
            supplier_id=supplier,
            carrier_id=carrier,
            product_id=product,
            category=category[:60],
            region=region[:60],
            created_from=created_from,
            created_to=created_to,
            delivered_from=delivered_from,
            delivered_to=delivered_to,
        )
        # Read before the list's query: what is kept under it is at least this new.
        key = reader_key(request, filters)
        context: dict[str, Any] = {"filters": filters, **labels()}

        async def listed() -> dict[str, Any]:
            rows = await selectors.case_list(filters)
            return {
                **context,
                "rows": rows,
                "next_before": rows[-1]["id"] if len(rows) == selectors.PAGE_SIZE else None,
            }

        async def results() -> Markup:
            return render_part(request, "cases/list.html", "results", await listed())

        if key is None:
            context = await listed()
        else:
            context["results_html"] = await LIST_RESULTS.kept_or_made(key, results)
        # Only the whole page shows the node menu with its counts.
        context["counts"] = {} if wants_fragment(request) else await selectors.node_counts()
        return render(request, "cases/list.html", context, block="results")

    @get("/{number:str}", opt={"roles": STAFF}, name="case_detail")
    async def case_detail(self, request: Request[Any, Any, Any], number: FromPath[str]) -> Template:
        # The hint counts its notice periods from today: the day is part of the key.
        key = reader_key(request, number, today_utc()) if forms_may_be_kept(request) else None
        if key is None:
            case = await selectors.case_get(number)
            return render(request, "cases/detail.html", await _detail_context(request, case))

        async def main_column() -> tuple[str, str]:
            case = await selectors.case_get(number)
            context = await _detail_context(request, case)
            return render_part_with_forms(request, "cases/detail.html", "case_main", context), case.number

        kept = await CASE_MAIN.kept_or_made(key, main_column)
        # Around the kept column the page needs only the case's number (its title and the report notice).
        context = {"case": {"number": kept[1]}, "case_main_html": with_token(request, kept[0])}
        return render(request, "cases/detail.html", context)

    @post("/{number:str}/move", opt={"roles": DESK}, status_code=200)
    async def case_move(
        self,
        request: Request[Any, Any, Any],
        number: FromPath[str],
        data: Annotated[MoveForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template:
        await services.case_move(actor=actor_for(request), number=number, target=data.target, reason=data.reason)
        return await _case_main(request, number)

    @post("/{number:str}/assignee", opt={"roles": DESK}, name="case_assign", status_code=200)
    async def case_assign(
        self,
        request: Request[Any, Any, Any],
        number: FromPath[str],
        data: Annotated[AssignForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template | Redirect:
        chosen = data.assignee.strip()
        # Anything that is not a desk user's id is refused by the service with the field named.
        assignee_id = int(chosen) if chosen.isdecimal() else (None if not chosen else -1)
        await assignment.case_assign(actor=actor_for(request), number=number, assignee_id=assignee_id)
        if not wants_fragment(request):
            return Redirect(path=f"/cases/{number}", status_code=303)
        return await _case_main(request, number)


async def _case_main(request: Request[Any, Any, Any], number: str) -> Template:
    """The case's main column after a change, with the event the timeline listens to."""
    case = await selectors.case_get(number)
    context = await _detail_context(request, case)
    return render(request, "cases/detail.html", context, block="case_main", headers={"HX-Trigger": "case-changed"})


async def _detail_context(request: Request[Any, Any, Any], case: Any) -> dict[str, Any]:
    origin = states.Node(case.node_before_dispute) if case.node_before_dispute else None
    return {
        "case": case,
        "events": await selectors.case_events(case.id),
        "targets": [t.value for t in states.allowed_targets(states.Node(case.node), dispute_origin=origin)],
        "assignable": await assignment.assignable_users(),
        "next_step": await responsibility.next_step(case),
        # Only readers of claim figures see the hint region (the page includes it for them alone).
        "hint_view": hint_view(request, case) if request.user.role in CLAIM_FIGURES else None,
        **labels(),
    }
