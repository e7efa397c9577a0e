"""The JSON API under /api/v1, for integrations, authenticated by bearer token."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath, FromQuery, Parameter

from app.accounts.roles import CLAIM_FIGURES, STAFF
from app.cases import selectors
from app.web.documents import case_api_document
from app.web.openapi import error_responses


class CaseApiController(Controller):
    path = "/api/v1/cases"
    tags = ["cases"]

    @get("/", opt={"roles": STAFF}, summary="List cases, newest first", responses=error_responses(422))
    async def list_cases(
        self,
        request: Request[Any, Any, Any],
        node: FromQuery[str] = "",
        problem_type: FromQuery[str] = "",
        q: FromQuery[str] = "",
        # Bounded to a 64-bit id: a bigger number would overflow the database's integer, not find a case.
        before: int | None = Parameter(default=None, ge=1, le=2**63 - 1, description="Continue below this case id"),
        limit: int = Parameter(default=50, ge=1, le=200),
    ) -> dict[str, Any]:
        filters = selectors.CaseFilters(node=node, problem_type=problem_type, query=q[:200], before_id=before)
        rows = await selectors.case_list(filters, limit=limit)
        shown = selectors.case_summary if request.user.role in CLAIM_FIGURES else _summary_without_figures
        return {
            "items": [shown(row) for row in rows],
            "next_before": rows[-1]["id"] if len(rows) == limit else None,
        }

    @get(
        "/{number:str}",
        opt={"roles": STAFF},
        summary="One case with its timeline and evidence",
        responses=error_responses(404),
    )
    async def get_case(self, request: Request[Any, Any, Any], number: FromPath[str]) -> dict[str, Any]:
        return await case_api_document(number, role=request.user.role)


def _summary_without_figures(row: dict[str, Any]) -> dict[str, Any]:
    return selectors.without_claim_figures(selectors.case_summary(row))
