"""Checks that every case's timeline is intact, and anchors each chain's head outside the database.

Each event's HMAC must match its content and predecessor under the key derived from the secret key.
The worker writes a signed checkpoint file into the data dir (each case's event count and latest hash,
taken only from a chain that verified), so a rewrite that recomputed the hashes, a deleted last event or
a deleted case shows against it. Events written before the chain was keyed carry a plain SHA-256: they
are adopted by the first checkpoint, which records the highest such id (``legacy_until``); after that
they are accepted up to it and never after it, and without a checkpoint not at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.cases.events import Actor, audit_key, event_hash
from app.cases.tables import Case, CaseEvent

BATCH = 5000
CHECKPOINT_NAME = "audit_checkpoint.json"


@dataclass
class AuditReport:
    cases: int = 0
    events: int = 0
    broken: list[dict[str, object]] = field(default_factory=list)
    checkpoint_at: str | None = None  # when the checkpoint held against was written; None: there is none

    @property
    def ok(self) -> bool:
        return not self.broken

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "cases": self.cases,
            "events": self.events,
            "broken": self.broken,
            "checkpoint_at": self.checkpoint_at,
        }


@dataclass
class _Walk:
    report: AuditReport
    heads: dict[int, tuple[int, str]]  # case id -> (events, latest hash)
    plain_until: int  # the highest id of an event carrying a plain (unkeyed) hash


def _signature(key: bytes, body: dict[str, Any]) -> str:
    return hmac.new(key, json.dumps(body, sort_keys=True).encode(), hashlib.sha256).hexdigest()


def read_checkpoint(data_dir: Path, key: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The checkpoint body, or None; and what is wrong with the file, or None."""
    path = data_dir / CHECKPOINT_NAME
    if not path.is_file():
        return None, None
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        body, signature = stored["checkpoint"], stored["signature"]
    except (ValueError, KeyError, TypeError):
        return None, "the checkpoint file is not readable"
    if not isinstance(body, dict) or not hmac.compare_digest(str(signature), _signature(key, body)):
        return None, "the checkpoint file's signature does not match (edited, or made with another key)"
    return body, None


async def _walk(checkpoint: dict[str, Any] | None, *, adopt_legacy: bool = False) -> _Walk:
    """Every event in id order, keeping the last hash per case (batched, so memory stays flat)."""
    key = audit_key()
    report = AuditReport()
    numbers = {row["id"]: row["number"] for row in await Case.select(Case.id, Case.number)}
    report.cases = len(numbers)
    anchored = (checkpoint or {}).get("cases", {})
    anchors = {int(case): (int(count), str(head)) for case, (count, head) in anchored.items()}
    legacy_until = int(checkpoint["legacy_until"]) if checkpoint else None
    heads: dict[int, tuple[int, str]] = {}
    keyed_seen: set[int] = set()
    plain_until = 0
    after = 0
    while True:
        batch = (
            await CaseEvent.select()
            .where(CaseEvent.id > after)
            .order_by(CaseEvent.id)
            .limit(BATCH)
            .output(load_json=True)
        )
        if not batch:
            break
        for event in batch:
            case_id = event["case"]
            count, previous = heads.get(case_id, (0, ""))
            actor = Actor(kind=event["actor_kind"], id=event["actor_id"], label=event["actor_label"])
            fields = {"prev_hash": previous, "case_id": case_id, "at": event["at"], "actor": actor}
            fields |= {"kind": event["kind"], "data": event["data"]}
            keyed = hmac.compare_digest(event["hash"], event_hash(**fields, key=key))
            plain = not keyed and event["hash"] == event_hash(**fields)
            # A plain hash is an event from before keying: only below the recorded boundary, or, when the
            # first checkpoint adopts them, before the case's first keyed event.
            if legacy_until is not None:
                plain_allowed = event["id"] <= legacy_until
            else:
                plain_allowed = adopt_legacy and case_id not in keyed_seen
            if event["prev_hash"] != previous or not (keyed or (plain and plain_allowed)):
                report.broken.append(
                    {"case": numbers.get(case_id, str(case_id)), "event_id": event["id"], "kind": event["kind"]}
                )
            if keyed:
                keyed_seen.add(case_id)
            elif plain:
                plain_until = max(plain_until, event["id"])
            count += 1
            heads[case_id] = (count, event["hash"])
            anchor = anchors.get(case_id)
            if anchor is not None and anchor[0] == count and anchor[1] != event["hash"]:
                report.broken.append(
                    {"case": numbers.get(case_id, str(case_id)), "event_id": event["id"], "kind": "rewritten"}
                )
            report.events += 1
        after = batch[-1]["id"]
    for case_id, (count, _head) in sorted(anchors.items()):
        if heads.get(case_id, (0, ""))[0] < count:
            report.broken.append({"case": numbers.get(case_id, str(case_id)), "event_id": None, "kind": "truncated"})
    return _Walk(report, heads, plain_until)


async def audit_verify(data_dir: Path | None = None) -> AuditReport:
    """Check every chain, and against the data dir's checkpoint when one is there."""
    checkpoint, problem = read_checkpoint(data_dir, audit_key()) if data_dir is not None else (None, None)
    walk = await _walk(checkpoint)
    if problem is not None:
        walk.report.broken.append({"case": None, "event_id": None, "kind": problem})
    walk.report.checkpoint_at = checkpoint["written_at"] if checkpoint else None
    return walk.report


async def audit_checkpoint(data_dir: Path, now: datetime | None = None) -> AuditReport:
    """Verify, and when every chain holds, anchor their heads in a new signed checkpoint file.

    A broken chain leaves the old checkpoint in place: it is the evidence of what was there.
    """
    key = audit_key()
    checkpoint, problem = read_checkpoint(data_dir, key)
    walk = await _walk(checkpoint, adopt_legacy=checkpoint is None and problem is None)
    if problem is not None:
        walk.report.broken.append({"case": None, "event_id": None, "kind": problem})
    if not walk.report.ok:
        return walk.report
    body = {
        "version": 1,
        "written_at": (now or datetime.now(UTC)).isoformat(),
        "legacy_until": int(checkpoint["legacy_until"]) if checkpoint else walk.plain_until,
        "cases": {str(case_id): [count, head] for case_id, (count, head) in sorted(walk.heads.items())},
    }
    partial = data_dir / (CHECKPOINT_NAME + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"checkpoint": body, "signature": _signature(key, body)}, handle)
    os.replace(partial, data_dir / CHECKPOINT_NAME)
    walk.report.checkpoint_at = str(body["written_at"])
    return walk.report
