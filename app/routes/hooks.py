"""Routes that exist only with CROSSCLAIM_TEST_HOOKS=1: the benchmark ceiling and fault injection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, get
from litestar.response import Stream, Template

from app.accounts.roles import PUBLIC


@get("/_hooks/bare", opt={"roles": PUBLIC}, name="hook_bare")
async def bare_page(request: Request[Any, Any, Any]) -> Template:
    """A template route with no database work: the framework-and-server ceiling for page benchmarks."""
    return Template(template_name="_partials/bare.html", context={"title": "ceiling"})


# Armed by a test: the next intake post is committed, then its response is cut off mid-body.
_drop_next_intake: list[bool] = []


class ResponseDropped(Exception):
    """Raised inside a response body on purpose: the server closes the connection unfinished."""


def drop_intake_response_armed() -> bool:
    """True once after the hook was armed (the intake handler asks only when test hooks are on)."""
    if _drop_next_intake:
        _drop_next_intake.clear()
        return True
    return False


def dropped_response() -> Stream:
    """A response whose body fails after the headers: the browser sees a network error, not an answer."""

    async def body() -> AsyncIterator[bytes]:
        yield b"<!-- committed -->"
        raise ResponseDropped("test hook: intake response dropped after commit")

    return Stream(body(), media_type="text/html", status_code=201)


@get("/_hooks/drop-next-intake-response", opt={"roles": PUBLIC}, name="hook_drop_intake")
async def arm_drop_intake() -> str:
    """Arms the lost-response fault for the next intake post (a GET so a test can arm it without a form)."""
    _drop_next_intake.append(True)
    return "armed"


HOOK_HANDLERS: list[Any] = [bare_page, arm_drop_intake]
