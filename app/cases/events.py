"""Who did something, and the append-only, hash-chained timeline that records it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.cases.tables import CaseEvent


@dataclass(frozen=True)
class Actor:
    kind: str  # user, supplier, carrier, customer, system
    id: str = ""
    label: str = ""

    @classmethod
    def system(cls, label: str = "Crossclaim") -> Actor:  # a label other than the default: mark it with N_
        return cls(kind="system", label=label)


def event_hash(*, prev_hash: str, case_id: int, at: datetime, actor: Actor, kind: str, data: Any) -> str:
    body = json.dumps(
        [prev_hash, case_id, at.astimezone(UTC).isoformat(), actor.kind, actor.id, actor.label, kind, data],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


async def record_event(
    *, case_id: int, actor: Actor, kind: str, data: dict[str, Any] | None = None, at: datetime | None = None
) -> CaseEvent:
    """Append an event to the case's timeline; call inside the transaction of the change it records."""
    at = at or datetime.now(UTC)
    payload = data or {}
    last = (
        await CaseEvent.select(CaseEvent.hash)
        .where(CaseEvent.case == case_id)
        .order_by(CaseEvent.id, ascending=False)
        .first()
    )
    prev_hash = last["hash"] if last else ""
    event = CaseEvent(
        case=case_id,
        at=at,
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        kind=kind,
        data=payload,
        prev_hash=prev_hash,
        hash=event_hash(prev_hash=prev_hash, case_id=case_id, at=at, actor=actor, kind=kind, data=payload),
    )
    await event.save()
    return event
