"""Rendering: a whole page, or one block of it for a real htmx request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2_fragments.litestar import HTMXBlockTemplate
from litestar import Request, Response
from litestar.response import Template


def wants_fragment(request: Request[Any, Any, Any]) -> bool:
    """htmx asked for a piece of the page; boosted navigations and history restores want it whole."""
    headers = request.headers
    return (
        headers.get("hx-request") == "true"
        and headers.get("hx-boosted") != "true"
        and headers.get("hx-history-restore-request") != "true"
    )


def is_replay(request: Request[Any, Any, Any]) -> bool:
    """The phone's offline queue sending a report it kept (static/js/queue.js), known by its own header:
    not a person at the form, and not htmx, so it is answered with a status rather than a page."""
    return request.headers.get("x-crossclaim-replay") == "1"


def render(
    request: Request[Any, Any, Any],
    template: str,
    context: Mapping[str, Any],
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Template:
    all_headers = {"Vary": "HX-Request", **(headers or {})}
    if block and wants_fragment(request):
        return HTMXBlockTemplate(
            template_name=template,
            block_name=block,
            context=dict(context),
            status_code=status_code,
            headers=all_headers,
        )
    return Template(template_name=template, context=dict(context), status_code=status_code, headers=all_headers)


def remember_language(request: Request[Any, Any, Any], response: Response[Any], language: str) -> None:
    """The reader's language for a year; HttpOnly (only the server reads it) and Secure behind HTTPS."""
    response.set_cookie(
        "cc_lang",
        language,
        samesite="lax",
        path="/",
        max_age=31536000,
        httponly=True,
        secure=request.app.state.settings.secure_cookies,
    )
