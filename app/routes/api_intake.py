"""The JSON API for intake: file a report with evidence files, and add evidence to a case later."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, post
from litestar.exceptions import SerializationException
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, HeaderParameter
from litestar.serialization import decode_json

from app.accounts.roles import STAFF
from app.errors import ValidationFailed
from app.evidence import services
from app.evidence.selectors import evidence_document
from app.evidence.services import UPLOAD_BODY_LIMIT, AttachedEvidence, Upload
from app.i18n import gettext as _
from app.intake.report import report_from_fields
from app.intake.submit import intake_submit
from app.web.auth import actor_for
from app.web.documents import case_api_document
from app.web.openapi import CaseReportOperation, EvidenceOperation, error_responses
from app.web.uploads import (
    evidence_policy,
    evidence_store,
    fact_fields,
    read_form,
    refuse_oversized,
    text_fields,
    uploads_from_form,
)

CREATE_DESCRIPTION = """\
Send `multipart/form-data` (or JSON without files) with the report fields: `problem_type` (required),
`order_number` (`PO-1` or `PO-1#2` for line 2), `order_line`, `product_sku`, `quantity_affected`,
`description`, `customer_name`, `customer_email`, `customer_phone`, `customer_language`, `region`,
`urgency`, `expected_days`, the responsibility facts as `facts.<name>` fields (or one `facts` JSON
object), and any number of files named `evidence`, each optionally tagged by an `evidence_covers`
field at the same position (a name from the rules' evidence checklist).

With an `Idempotency-Key` header (the client's UUID) the same report sent again answers 200 with the
case the first request created (201 is only for a new case) and attaches only files not yet on it;
the same key with a different report answers 422. A refused file does not stop the report: it is
listed in `uploads` and in the case's `evidence` with status `failed` and the reason.
"""


def upload_outcome(attached: AttachedEvidence) -> dict[str, Any]:
    """What became of one sent file: stored, refused (with why), or already on the case."""
    row = attached.evidence
    return {
        "filename": row.filename,
        "status": row.status,
        "reason": row.status_reason if row.status != "ok" else None,
        "already_on_case": not attached.created,
        "evidence": evidence_document(row),
    }


async def _report_parts(request: Request[Any, Any, Any]) -> tuple[dict[str, Any], dict[str, Any], list[Upload]]:
    """Report fields, facts and files from a multipart, URL-encoded or JSON body."""
    content_type, _options = request.content_type
    if content_type == "application/json":
        try:
            body = await request.json()
        except SerializationException:
            hint = _("Send a JSON object.")
            raise ValidationFailed(_("The body is not valid JSON."), fields=[("body", hint)]) from None
        if not isinstance(body, dict):
            raise ValidationFailed(_("The body must be a JSON object."), fields=[("body", _("Send a JSON object."))])
        # null or left out is no facts; an empty list, text or a number is not an object and is refused.
        given = {} if body.get("facts") is None else body["facts"]
        if not isinstance(given, dict):
            raise ValidationFailed(_("The facts must be a JSON object."), fields=[("facts", _("Send an object."))])
        return body, given, []
    # Raw form: the API takes JSON or a multipart form with files and facts under their rules' names.
    form = await read_form(request)
    fields = text_fields(form)
    facts: dict[str, Any] = dict(fact_fields(form))
    if fields.get("facts", "").strip():
        try:
            posted = decode_json(fields["facts"])
        except SerializationException:
            posted = None
        if not isinstance(posted, dict):
            raise ValidationFailed(_("The facts are not a JSON object."), fields=[("facts", _("Send an object."))])
        facts = {**posted, **facts}
    return fields, facts, await uploads_from_form(form)


# A function, not a method of a controller: Litestar 2.25 refuses two controllers on one path (their
# automatic OPTIONS handlers collide), and CaseApiController already owns GET /api/v1/cases. Register
# it after that controller.
@post(
    "/api/v1/cases",
    opt={"roles": STAFF},
    tags=["cases"],
    name="api_case_create",
    summary="File a report, with evidence files",
    description=CREATE_DESCRIPTION,
    request_max_body_size=UPLOAD_BODY_LIMIT,
    status_code=201,
    operation_class=CaseReportOperation,
    responses=error_responses(
        413, 422, s200=ResponseSpec(dict[str, Any], description="The same report again: the case it made")
    ),
)
async def create_case(
    request: Request[Any, Any, Any],
    idempotency_key: Annotated[
        str | None, HeaderParameter(name="Idempotency-Key", description="The client's UUID for this report")
    ] = None,
) -> Response[dict[str, Any]]:
    refuse_oversized(request)
    fields, facts, uploads = await _report_parts(request)
    result = await intake_submit(
        actor=actor_for(request),
        report=report_from_fields(fields, facts),
        uploads=uploads,
        client_key=idempotency_key,
        store=evidence_store(request),
        policy=evidence_policy(request),
    )
    document = await case_api_document(result.case.number, role=request.user.role)
    document["uploads"] = [upload_outcome(item) for item in result.evidence]
    return Response(
        document,
        status_code=201 if result.created else 200,
        headers={"Location": f"/api/v1/cases/{result.case.number}"},
    )


class IntakeApiController(Controller):
    path = "/api/v1/cases"
    tags = ["cases"]

    @post(
        "/{number:str}/evidence",
        opt={"roles": STAFF},
        summary="Add evidence files to a case",
        description="`multipart/form-data` with files named `evidence` and optional `evidence_covers` tags.",
        request_max_body_size=UPLOAD_BODY_LIMIT,
        status_code=201,
        operation_class=EvidenceOperation,
        responses=error_responses(
            404, 413, 422, s200=ResponseSpec(dict[str, Any], description="Every file was already on the case")
        ),
    )
    async def add_evidence(self, request: Request[Any, Any, Any], number: FromPath[str]) -> Response[dict[str, Any]]:
        refuse_oversized(request)
        # Raw form: files, and read_form answers an oversized or garbled upload with a 413/422.
        form = await read_form(request)
        attached = await services.evidence_add(
            actor=actor_for(request),
            number=number,
            uploads=await uploads_from_form(form),
            store=evidence_store(request),
            policy=evidence_policy(request),
        )
        created = any(item.created for item in attached)
        return Response(
            {"number": number, "uploads": [upload_outcome(item) for item in attached]},
            status_code=201 if created else 200,
        )
