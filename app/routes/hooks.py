"""Routes that exist only with CROSSCLAIM_TEST_HOOKS=1: the benchmark ceiling and fault injection."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, get
from litestar.params import FromQuery
from litestar.response import Stream, Template

from app.accounts.roles import PUBLIC


@get("/_hooks/bare", opt={"roles": PUBLIC}, name="hook_bare")
async def bare_page(request: Request[Any, Any, Any]) -> Template:
    """A template route with no database work: the framework-and-server ceiling for page benchmarks."""
    return Template(template_name="_partials/bare.html", context={"title": "ceiling"})


# Armed by a test: the next intake post is committed, then its response is cut off mid-body.
_drop_next_intake: list[bool] = []
# Or a share of all intake posts, drawn from a seeded generator so a failing run can be repeated.
_drop_share: dict[str, Any] = {"share": 0.0, "random": random.Random(0), "dropped": 0}  # noqa: S311 - fault injection, not secrets


# Armed by a test: the next intake post is committed, then its answer waits this many seconds (a hung send).
_stall_next_intake: list[float] = []


def stall_intake_seconds() -> float:
    """Seconds the next intake answer is held after its commit, once after the hook was armed (else 0)."""
    return _stall_next_intake.pop() if _stall_next_intake else 0.0


class ResponseDropped(Exception):
    """Raised inside a response body on purpose: the server closes the connection unfinished."""


def drop_intake_response_armed() -> bool:
    """True once after the hook was armed (the intake handler asks only when test hooks are on)."""
    if _drop_next_intake:
        _drop_next_intake.clear()
        return True
    share: float = _drop_share["share"]
    if share > 0 and _drop_share["random"].random() < share:
        _drop_share["dropped"] += 1
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


@get("/_hooks/drop-intake-responses", opt={"roles": PUBLIC}, name="hook_drop_intake_share")
async def drop_intake_share(share: FromQuery[float], seed: FromQuery[int] = 0) -> str:
    """Cuts off this share of intake responses after commit (0 stops it), for the offline queue's chaos test.

    Answers how many were cut off since the previous call, so a test knows the fault really happened.
    """
    dropped = _drop_share["dropped"]
    _drop_share.update(share=min(max(share, 0.0), 1.0), random=random.Random(seed), dropped=0)  # noqa: S311
    return f"dropped {dropped}"


@get("/_hooks/stall-next-intake", opt={"roles": PUBLIC}, name="hook_stall_intake")
async def arm_stall_intake(seconds: FromQuery[float] = 20.0) -> str:
    """Arms a hung answer for the next intake post: filed at once, answered only after ``seconds`` (at most 120)."""
    _stall_next_intake[:] = [min(max(seconds, 0.0), 120.0)]
    return "armed"


HOOK_HANDLERS: list[Any] = [bare_page, arm_drop_intake, drop_intake_share, arm_stall_intake]
