"""A sweep's rows, read in chunks of ids: queries stay under the engines' parameter limits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

CHUNK = 300


def as_datetime(value: Any) -> datetime:
    """Raw queries on SQLite may hand back the stored text; both engines store UTC."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def select_in(query: Callable[[], Any], column: Any, ids: set[int]) -> list[dict[str, Any]]:
    """A fresh ``query()`` per chunk of ``column IN ids`` (Piccolo's where() adds to the query it is called on)."""
    if not ids:
        return []
    found: list[dict[str, Any]] = []
    values = sorted(ids)
    for start in range(0, len(values), CHUNK):
        found.extend(await query().where(column.is_in(values[start : start + CHUNK])))
    return found
