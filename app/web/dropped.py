"""The lost-response and hung-answer faults for intake posts, armed only by the test-hook routes."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

from litestar.response import Stream

# Armed by a test: the next intake post is committed, then its response is cut off mid-body.
drop_next_intake: list[bool] = []


# Or a share of all intake posts, drawn from a seeded generator so a failing run can be repeated.
drop_share: dict[str, Any] = {"share": 0.0, "random": random.Random(0), "dropped": 0}  # noqa: S311 - fault injection, not secrets


# Armed by a test: the next intake post is committed, then its answer waits this many seconds (a hung send).
stall_next_intake: list[float] = []


def stall_intake_seconds() -> float:
    """Seconds the next intake answer is held after its commit, once after the hook was armed (else 0)."""
    return stall_next_intake.pop() if stall_next_intake else 0.0


class ResponseDropped(Exception):
    """Raised inside a response body on purpose: the server closes the connection unfinished."""


def drop_intake_response_armed() -> bool:
    """True once after the hook was armed (the intake handler asks only when test hooks are on)."""
    if drop_next_intake:
        drop_next_intake.clear()
        return True
    share: float = drop_share["share"]
    if share > 0 and drop_share["random"].random() < share:
        drop_share["dropped"] += 1
        return True
    return False


def dropped_response() -> Stream:
    """A response whose body fails after the headers: the browser sees a network error, not an answer."""

    async def body() -> AsyncIterator[bytes]:
        yield b"<!-- committed -->"
        raise ResponseDropped("test hook: intake response dropped after commit")

    return Stream(body(), media_type="text/html", status_code=201)
