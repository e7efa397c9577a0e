"""Who did something, and the append-only, hash-chained timeline that records it.

Each event carries its predecessor's hash and an HMAC-SHA256 of its content and that predecessor, keyed
with a key derived from the secret key (kept outside the database), so whoever can write the database
but not read the key cannot recompute a chain. The previous hash is read under the case's lock and
(case, prev_hash) is unique, so two writers cannot fork a chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from piccolo.query.functions.aggregate import Max

from app.cases.tables import Case, CaseEvent
from app.db import current_engine, is_sqlite

_audit: dict[str, bytes | None] = {"key": None}
CHUNK = 500


@dataclass(frozen=True)
class Actor:
    kind: str  # user, supplier, carrier, customer, system
    id: str = ""
    label: str = ""

    @classmethod
    def system(cls, label: str = "Crossclaim") -> Actor:  # a label other than the default: mark it with N_
        return cls(kind="system", label=label)


def configure_audit_key(secret_key: str) -> bytes:
    """Called by each entry point with the secret key: the timeline's HMAC key is derived from it."""
    key = hmac.new(secret_key.encode(), b"crossclaim audit chain v1", hashlib.sha256).digest()
    _audit["key"] = key
    return key


def audit_key() -> bytes:
    key = _audit["key"]
    if key is None:
        raise RuntimeError("the audit key is not configured: the entry point must call configure_audit_key")
    return key


def event_hash(
    *, prev_hash: str, case_id: int, at: datetime, actor: Actor, kind: str, data: Any, key: bytes | None = None
) -> str:
    """The event's HMAC under ``key``; with None, the plain SHA-256 that events written before keying carry."""
    body = json.dumps(
        [prev_hash, case_id, at.astimezone(UTC).isoformat(), actor.kind, actor.id, actor.label, kind, data],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    ).encode()
    if key is None:
        return hashlib.sha256(body).hexdigest()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


async def _lock_cases(case_ids: Sequence[int]) -> None:
    """Hold the cases' rows until the transaction ends (SQLite's IMMEDIATE transaction already holds the
    only write lock), so the chain heads read next are still the heads when the events are written."""
    if case_ids and not is_sqlite(current_engine()):
        marks = ", ".join("{}" for _ in case_ids)
        await Case.raw(f"SELECT id FROM after_sales_case WHERE id IN ({marks}) ORDER BY id FOR UPDATE", *case_ids)  # noqa: S608 - placeholders only


async def lock_case(case_id: int) -> None:
    """Serialise writes to one case until the transaction ends: its timeline head, its evidence, who has it."""
    await _lock_cases([case_id])


async def lock_cases(case_ids: Sequence[int]) -> None:
    """The same for many cases (in id order, so two writers of overlapping sets cannot deadlock)."""
    await _lock_cases(sorted(set(case_ids)))


async def _chain_heads(case_ids: Sequence[int]) -> dict[int, str]:
    heads: dict[int, str] = {}
    for start in range(0, len(case_ids), CHUNK):
        chunk = list(case_ids[start : start + CHUNK])
        latest = (
            await CaseEvent.select(CaseEvent.case, Max(CaseEvent.id, alias="last"))
            .where(CaseEvent.case.is_in(chunk))
            .group_by(CaseEvent.case)
        )
        ids = [row["last"] for row in latest]
        if ids:
            for row in await CaseEvent.select(CaseEvent.case, CaseEvent.hash).where(CaseEvent.id.is_in(ids)):
                heads[row["case"]] = row["hash"]
    return heads


async def record_event(
    *, case_id: int, actor: Actor, kind: str, data: dict[str, Any] | None = None, at: datetime | None = None
) -> CaseEvent:
    """Append an event to the case's timeline; call inside the transaction of the change it records."""
    events = await record_events([(case_id, kind, data or {})], actor=actor, at=at or datetime.now(UTC))
    return events[0]


async def record_events(
    entries: Sequence[tuple[int, str, dict[str, Any]]], *, actor: Actor, at: datetime
) -> list[CaseEvent]:
    """Append events (case id, kind, data) by one actor at one moment, for one or many cases: the cases
    locked, one read of the chain heads, one insert per chunk; call inside a transaction."""
    key = audit_key()
    case_ids = sorted({case_id for case_id, _, _ in entries})
    await _lock_cases(case_ids)
    heads = await _chain_heads(case_ids)
    events = []
    for case_id, kind, data in entries:
        prev = heads.get(case_id, "")
        digest = event_hash(prev_hash=prev, case_id=case_id, at=at, actor=actor, kind=kind, data=data, key=key)
        heads[case_id] = digest
        events.append(
            CaseEvent(
                case=case_id,
                at=at,
                actor_kind=actor.kind,
                actor_id=actor.id,
                actor_label=actor.label,
                kind=kind,
                data=data,
                prev_hash=prev,
                hash=digest,
            )
        )
    if len(events) == 1:
        await events[0].save()  # the row's id is wanted back
    else:
        for start in range(0, len(events), CHUNK):
            await CaseEvent.insert(*events[start : start + CHUNK])
    return events
