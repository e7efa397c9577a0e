"""Server-sent events for a message thread: the list whenever it changes, for a while; then the client reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from litestar.response.sse import ServerSentEventMessage

from app.cases.tables import Message
from app.collaboration import selectors

# One stream lasts TICKS × INTERVAL seconds; EventSource reconnects by itself, so no connection lives forever.
TICKS = 30
INTERVAL = 2.0
RETRY_MS = 3000


async def thread_marker(case_id: int, party: str) -> tuple[int, int]:
    """Changes whenever a message is added to the thread (count and newest id)."""
    rows = await Message.select(Message.id).where((Message.case == case_id) & (Message.party == party))
    return len(rows), max((row["id"] for row in rows), default=0)


async def thread_events(
    *,
    case_id: int,
    party: str,
    render: Callable[[dict[str, Any]], str],
    ticks: int = TICKS,
    interval: float = INTERVAL,
    allowed: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[ServerSentEventMessage]:
    """The thread's list as an event when it changes, a comment otherwise (that also notices a gone client).

    ``allowed`` is asked before every tick: a revoked link ends its party's stream at once, not a minute later.
    """
    last: tuple[int, int] | None = None
    for _ in range(ticks):
        if allowed is not None and not await allowed():
            return
        marker = await thread_marker(case_id, party)
        if marker != last:
            last = marker
            html = render(await selectors.thread_view(case_id, party))
            yield ServerSentEventMessage(data=html, event="thread", retry=RETRY_MS)
        else:
            yield ServerSentEventMessage(comment="idle")
        await asyncio.sleep(interval)
