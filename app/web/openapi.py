"""What the OpenAPI document says beyond the API handlers' signatures: error answers, bodies read by hand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, Reference, RequestBody, Schema

from app.cases.taxonomy import PROBLEM_TYPES, URGENCIES
from app.intake.report import MAX_EXPECTED_DAYS


@dataclass
class FieldProblem:
    field: str
    message: str


@dataclass
class ErrorBody:
    """Every error of the API: a code, a message for people, the fields at fault and the request id."""

    error: str
    message: str
    fields: list[FieldProblem]
    request_id: str


_ERRORS = {
    401: "No valid bearer token.",
    403: "The token's role may not do this, or the request came from another origin.",
    404: "There is nothing at this address (an unknown case number, for instance).",
    409: "The case is not in a state that allows this.",
    413: "The body is over the upload limit; nothing was stored.",
    422: "The input is not valid; each field at fault is named.",
    429: "Too many attempts; wait as long as Retry-After says.",
}


def error_responses(*codes: int, **extra: ResponseSpec) -> dict[int, ResponseSpec]:
    """The documented error answers of one operation (``extra``: other statuses, keyed ``s200`` etc.)."""
    responses = {
        code: ResponseSpec(data_container=ErrorBody, description=_ERRORS[code], generate_examples=False)
        for code in (401, 403, *codes)
    }
    responses.update({int(name[1:]): spec for name, spec in extra.items()})
    return responses


def _string(**kwargs: Any) -> Schema:
    return Schema(type=OpenAPIType.STRING, **kwargs)


def _optional(kind: OpenAPIType, **kwargs: Any) -> Schema:
    """A report field that may be left out or sent as null (both mean "not given").

    Numbers may also come as text, as a form sends them: ASCII digits with a sign, empty for "not given".
    """
    if "enum" in kwargs:
        kwargs["enum"] = [*kwargs["enum"], None]
    if kind == OpenAPIType.INTEGER:
        return Schema(type=[kind, OpenAPIType.STRING, OpenAPIType.NULL], pattern=r"^\s*([-+]?[0-9]+)?\s*$", **kwargs)
    return Schema(type=[kind, OpenAPIType.NULL], **kwargs)


def _report_schema(*, with_files: bool) -> Schema:
    text, number = OpenAPIType.STRING, OpenAPIType.INTEGER
    properties: dict[str, Schema | Reference] = {
        "problem_type": _string(enum=list(PROBLEM_TYPES)),
        "order_number": _optional(text, description="PO-1, or PO-1#2 for its line 2"),
        "order_line": _optional(number, description="A line of order_number; ignored without one"),
        "product_sku": _optional(text),
        "quantity_affected": _optional(number, minimum=1),
        "description": _optional(text),
        "customer_name": _optional(text),
        "customer_email": _optional(text),
        "customer_phone": _optional(text),
        "customer_language": _optional(text),
        "region": _optional(text),
        "urgency": _optional(text, enum=["", *URGENCIES], description="Empty: normal"),
        "expected_days": _optional(number, minimum=1, maximum=MAX_EXPECTED_DAYS),
    }
    if with_files:
        properties["evidence"] = Schema(type=OpenAPIType.ARRAY, items=_string(format="binary"))
        properties["evidence_covers"] = Schema(type=OpenAPIType.ARRAY, items=_string())
    else:
        properties["facts"] = _optional(OpenAPIType.OBJECT, description="The responsibility facts")
    return Schema(type=OpenAPIType.OBJECT, properties=properties, required=["problem_type"])


def _evidence_schema() -> Schema:
    return Schema(
        type=OpenAPIType.OBJECT,
        properties={
            "evidence": Schema(type=OpenAPIType.ARRAY, items=_string(format="binary")),
            "evidence_covers": Schema(type=OpenAPIType.ARRAY, items=_string()),
        },
        required=["evidence"],
    )


def _with_body(content: dict[str, Schema]) -> type[Operation]:
    """An Operation class that documents a body the handler reads itself (multipart with files, raw JSON)."""
    body = RequestBody(
        content={media: OpenAPIMediaType(schema=schema) for media, schema in content.items()}, required=True
    )

    @dataclass
    class WithBody(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    return WithBody


CaseReportOperation = _with_body(
    {"multipart/form-data": _report_schema(with_files=True), "application/json": _report_schema(with_files=False)}
)
EvidenceOperation = _with_body({"multipart/form-data": _evidence_schema()})
FactsOperation = _with_body(
    {"application/json": Schema(type=OpenAPIType.OBJECT, description="The facts of the claim, by name")}
)
