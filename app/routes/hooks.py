"""Routes that exist only with CROSSCLAIM_TEST_HOOKS=1: the benchmark ceiling and fault injection."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template

from app.accounts.roles import PUBLIC


@get("/_hooks/bare", opt={"roles": PUBLIC}, name="hook_bare")
async def bare_page(request: Request[Any, Any, Any]) -> Template:
    """A template route with no database work: the framework-and-server ceiling for page benchmarks."""
    return Template(template_name="_partials/bare.html", context={"title": "ceiling"})


HOOK_HANDLERS: list[Any] = [bare_page]
