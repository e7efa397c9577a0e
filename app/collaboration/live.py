"""Server-sent events for a message thread: the list whenever it changes, for a while; then the client reconnects.

On the staff side the same stream also says when the case's collaboration changed (an answer, a plan round,
a mediation, a party's file…): a `collab` event, on which the case page fetches its changed regions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from litestar.response.sse import ServerSentEventMessage

from app.cases.tables import CaseEvent, Message
from app.collaboration import selectors, visibility

# One stream lasts TICKS × INTERVAL seconds; EventSource reconnects by itself, so no connection lives forever.
TICKS = 30
INTERVAL = 2.0
RETRY_MS = 3000
# What changes the collaboration region of the staff case page (messages have their own event; views do not).
# The push mail's progress (sent or failed by the worker) shows on the page as it happens.
COLLAB_EVENTS = visibility.PARTY_EVENTS | {
    "link_revoked",
    "evidence_added",
    "party_action_refused",
    "push_mail_sent",
    "push_mail_failed",
    "push_mail_retried",
}


async def thread_marker(case_id: int, party: str) -> tuple[int, int]:
    """Changes whenever a message is added to the thread (count and newest id); internal notes are not part of it."""
    rows = await Message.select(Message.id).where(
        (Message.case == case_id) & (Message.party == party) & Message.internal.eq(False)
    )
    return len(rows), max((row["id"] for row in rows), default=0)


async def case_marker(case_id: int) -> int:
    """Changes whenever a collaboration event is recorded on the case (the newest such event's id)."""
    row = (
        await CaseEvent.select(CaseEvent.id)
        .where((CaseEvent.case == case_id) & CaseEvent.kind.is_in(sorted(COLLAB_EVENTS)))
        .order_by(CaseEvent.id, ascending=False)
        .first()
    )
    return int(row["id"]) if row else 0


async def thread_events(
    *,
    case_id: int,
    party: str,
    render: Callable[[dict[str, Any]], str],
    ticks: int = TICKS,
    interval: float = INTERVAL,
    allowed: Callable[[], Awaitable[bool]] | None = None,
    watch_case: bool = False,
) -> AsyncIterator[ServerSentEventMessage]:
    """The thread's list as an event when it changes, a comment otherwise (that also notices a gone client).

    ``allowed`` is asked before every tick: a revoked link ends its party's stream at once, not a minute later.
    ``watch_case`` (staff only: a party must not learn when others act) adds a `collab` event whenever the
    case's collaboration changed since the stream began.
    """
    last: tuple[int, int] | None = None
    seen_case = await case_marker(case_id) if watch_case else 0
    for _ in range(ticks):
        if allowed is not None and not await allowed():
            return
        sent = False
        marker = await thread_marker(case_id, party)
        if marker != last:
            last, sent = marker, True
            html = render(await selectors.thread_view(case_id, party))
            yield ServerSentEventMessage(data=html, event="thread", retry=RETRY_MS)
        if watch_case and (current := await case_marker(case_id)) != seen_case:
            seen_case, sent = current, True
            yield ServerSentEventMessage(data=str(current), event="collab", retry=RETRY_MS)
        if not sent:
            yield ServerSentEventMessage(comment="idle")
        await asyncio.sleep(interval)
