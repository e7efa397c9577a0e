"""In-app notifications: the bell's rows, its unread count, and marking them read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.notify.tables import Notification


async def notify_users(rows: Sequence[tuple[int, int | None, str]], *, now: datetime) -> None:
    """Add one notification per (user id, case id, text); call inside the sender's transaction."""
    if rows:
        await Notification.insert(
            *[Notification(user=user, case=case, text=text[:2000], created_at=now) for user, case, text in rows]
        )


async def unread_count(user_id: int) -> int:
    return int(await Notification.count().where((Notification.user == user_id) & Notification.read_at.is_null()))


async def recent(user_id: int, limit: int = 20) -> list[dict[str, Any]]:
    return list(
        await Notification.select(
            Notification.id, Notification.text, Notification.created_at, Notification.read_at, Notification.case.number
        )
        .where(Notification.user == user_id)
        .order_by(Notification.id, ascending=False)
        .limit(limit)
    )


async def mark_all_read(user_id: int, *, now: datetime) -> None:
    await Notification.update({Notification.read_at: now}).where(
        (Notification.user == user_id) & Notification.read_at.is_null()
    )
