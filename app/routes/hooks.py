"""Routes that exist only with CROSSCLAIM_TEST_HOOKS=1: the benchmark ceiling and fault injection."""

from __future__ import annotations

import random
from typing import Any

from litestar import Request, get
from litestar.params import FromQuery
from litestar.response import Template

from app.accounts.roles import PUBLIC
from app.web.dropped import drop_next_intake, drop_share, stall_next_intake


@get("/_hooks/bare", opt={"roles": PUBLIC}, name="hook_bare")
async def bare_page(request: Request[Any, Any, Any]) -> Template:
    """A template route with no database work: the framework-and-server ceiling for page benchmarks."""
    return Template(template_name="_partials/bare.html", context={"title": "ceiling"})


@get("/_hooks/drop-next-intake-response", opt={"roles": PUBLIC}, name="hook_drop_intake")
async def arm_drop_intake() -> str:
    """Arms the lost-response fault for the next intake post (a GET so a test can arm it without a form)."""
    drop_next_intake.append(True)
    return "armed"


@get("/_hooks/drop-intake-responses", opt={"roles": PUBLIC}, name="hook_drop_intake_share")
async def drop_intake_share(share: FromQuery[float], seed: FromQuery[int] = 0) -> str:
    """Cuts off this share of intake responses after commit (0 stops it), for the offline queue's chaos test.

    Answers how many were cut off since the previous call, so a test knows the fault really happened.
    """
    dropped = drop_share["dropped"]
    drop_share.update(share=min(max(share, 0.0), 1.0), random=random.Random(seed), dropped=0)  # noqa: S311
    return f"dropped {dropped}"


@get("/_hooks/stall-next-intake", opt={"roles": PUBLIC}, name="hook_stall_intake")
async def arm_stall_intake(seconds: FromQuery[float] = 20.0) -> str:
    """Arms a hung answer for the next intake post: filed at once, answered only after ``seconds`` (at most 120)."""
    stall_next_intake[:] = [min(max(seconds, 0.0), 120.0)]
    return "armed"


HOOK_HANDLERS: list[Any] = [bare_page, arm_drop_intake, drop_intake_share, arm_stall_intake]
