"""The one error boundary: a domain or HTTP error becomes a full page, an htmx fragment or JSON."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from app.errors import ApplicationError, NotAuthenticated, RateLimited, ValidationFailed
from app.i18n import gettext as _
from app.logs import redacted, request_id_var, security_event
from app.web.auth import client_ip
from app.web.pages import is_replay, wants_fragment

log = logging.getLogger("crossclaim.errors")


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    return (
        path.startswith("/api/")
        or path == "/healthz"
        or ("application/json" in request.headers.get("accept", "")
        and "text/html" not in request.headers.get("accept", ""))
    )


def error_response(
    request: Request[Any, Any, Any],
    *,
    status_code: int,
    code: str,
    message: str,
    fields: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    request_id = request_id_var.get()
    # The code also as a header: scripts (the offline queue) tell a lost session from a refusal by it.
    all_headers = {"Vary": "HX-Request", "Cache-Control": "no-store", "X-Error-Code": code, **(headers or {})}
    if _wants_json(request):
        body = {
            "error": code,
            "message": message,
            "fields": [{"field": name, "message": text} for name, text in fields or []],
            "request_id": request_id,
        }
        return Response(body, status_code=status_code, media_type=MediaType.JSON, headers=all_headers)
    context = {
        "status_code": status_code,
        "code": code,
        "message": message,
        "fields": fields or [],
        "request_id": request_id,
    }
    if wants_fragment(request) or is_replay(request):
        # Errors land in the page's message region, not in whatever the request targeted; the queue
        # keeps the same few words as the reason a replay was refused.
        all_headers.update({"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"})
        return Template(
            template_name="_partials/error.html", context=context, status_code=status_code, headers=all_headers
        )
    return Template(template_name="error.html", context=context, status_code=status_code, headers=all_headers)


def application_error(request: Request[Any, Any, Any], error: ApplicationError) -> Response[Any]:
    # A replay has nobody to send to the sign-in page: it is told 401 and waits for a signed-in page.
    if isinstance(error, NotAuthenticated) and not _wants_json(request) and not is_replay(request):
        target = "/login?next=" + quote(request.url.path, safe="/")
        if wants_fragment(request):
            return Response(content=None, status_code=204, headers={"HX-Redirect": target})
        return Redirect(path=target)
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else None
    return error_response(
        request,
        status_code=error.status_code,
        code=error.code,
        message=error.message,
        fields=error.fields,
        headers=headers,
    )


def validation_error(request: Request[Any, Any, Any], error: ValidationException) -> Response[Any]:
    fields: list[tuple[str, str]] = []
    for item in error.extra if isinstance(error.extra, list) else []:
        if isinstance(item, dict):
            fields.append((str(item.get("key") or item.get("source") or "body"), str(item.get("message", ""))))
    return error_response(
        request,
        status_code=422,
        code="invalid",
        message=_("The request is not valid: %(detail)s", detail=error.detail),
        fields=fields,
    )


def http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    status = error.status_code
    if isinstance(error, NotAuthorizedException):
        return application_error(request, NotAuthenticated(_("Please sign in.")))
    if isinstance(error, PermissionDeniedException) and "csrf" in str(error.detail).lower():
        security_event("csrf_failed", path=redacted(request.url.path), ip=client_ip(request))
        message = _("This form has expired or came from another site. Reload the page and try again.")
        return error_response(request, status_code=403, code="csrf_failed", message=message)
    messages = {
        404: _("There is nothing at this address."),
        405: _("This address does not accept that kind of request."),
        413: _("The upload is too large."),
    }
    message = messages.get(status) or str(error.detail)
    return error_response(request, status_code=status, code=f"http_{status}", message=message)


def input_the_database_refused(error: BaseException) -> str | None:
    """Why the database refused a value the request sent, or None when the fault is ours.

    A number beyond 64 bits (SQLite's driver raises OverflowError, asyncpg a DataError saying so) or a
    NUL character in text (PostgreSQL stores no NUL) comes from an address or a form, never from us.
    """
    text = str(error)
    if isinstance(error, OverflowError) or (type(error).__name__ == "DataError" and "out of int" in text):
        return _("A number in the request is too large.")
    if type(error).__name__ == "CharacterNotInRepertoireError" and "0x00" in text:
        return _("The request holds a NUL character, which text cannot contain.")
    return None


async def refuse_nul_in_query(request: Request[Any, Any, Any]) -> None:
    """Before any handler: a query string holding a NUL is refused by name on both engines.

    No parameter of ours means anything with a NUL in it; SQLite's text functions and PostgreSQL's text
    type each fail on it in their own way deep in a query. A coroutine, though it awaits nothing:
    Litestar runs a plain function hook in a worker thread, a thread hop on every request.
    """
    if b"%00" in request.scope.get("query_string", b""):
        raise ValidationFailed(_("The request holds a NUL character, which text cannot contain."))


def unexpected_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    refused = input_the_database_refused(error)
    if refused is not None:
        log.info("input refused by the database", extra={"path": redacted(request.url.path)})
        return error_response(request, status_code=422, code="invalid", message=refused)
    log.exception("unexpected error", extra={"path": redacted(request.url.path)})
    message = _("Something went wrong on our side. Nothing you sent was lost; please try again.")
    return error_response(
        request, status_code=HTTP_500_INTERNAL_SERVER_ERROR, code="server_error", message=message
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApplicationError: application_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
