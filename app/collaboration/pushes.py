"""Where the mail of a case's latest push stands, read from its timeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.cases.responsibility import json_object
from app.cases.tables import CaseEvent

# What a push's mail did: queued with the push (or a retry), then sent or failed by the worker.
PUSH_MAIL_EVENTS = frozenset({"case_pushed", "push_mail_retried", "push_mail_sent", "push_mail_failed"})


@dataclass(frozen=True, slots=True)
class PushState:
    """The latest push's mail: "sending", "sent" or "failed" (with the reason), and the link it carries."""

    status: str
    error: str
    link_id: int
    push: dict[str, Any]


async def push_state(case_id: int) -> PushState | None:
    """Where the mail of the case's latest push stands (None: never pushed)."""
    state: PushState | None = None
    rows = (
        await CaseEvent.select(CaseEvent.kind, CaseEvent.data)
        .where((CaseEvent.case == case_id) & CaseEvent.kind.is_in(sorted(PUSH_MAIL_EVENTS)))
        .order_by(CaseEvent.id)
    )
    for event in rows:
        data = json_object(event["data"])
        if event["kind"] == "case_pushed":
            state = PushState("sending", "", int(data.get("link_id") or 0), data)
        elif state is None:
            continue
        elif event["kind"] == "push_mail_retried":
            state = PushState("sending", "", int(data.get("link_id") or 0), state.push)
        elif data.get("link_id") == state.link_id:
            failed = event["kind"] == "push_mail_failed"
            state = PushState("failed" if failed else "sent", str(data.get("error", "")), state.link_id, state.push)
    return state
