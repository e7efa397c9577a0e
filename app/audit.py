"""Checks that every case's timeline is intact: each event's hash matches its content and predecessor."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.cases.events import Actor, event_hash
from app.cases.tables import Case, CaseEvent

BATCH = 5000


@dataclass
class AuditReport:
    cases: int = 0
    events: int = 0
    broken: list[dict[str, object]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.broken

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "cases": self.cases, "events": self.events, "broken": self.broken}


async def audit_verify() -> AuditReport:
    """Walk every event in id order, keeping the last hash per case (batched, so memory stays flat)."""
    report = AuditReport()
    numbers = {row["id"]: row["number"] for row in await Case.select(Case.id, Case.number)}
    report.cases = len(numbers)
    last_hash: dict[int, str] = {}
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
            previous = last_hash.get(case_id, "")
            actor = Actor(kind=event["actor_kind"], id=event["actor_id"], label=event["actor_label"])
            expected = event_hash(
                prev_hash=previous, case_id=case_id, at=event["at"], actor=actor, kind=event["kind"], data=event["data"]
            )
            if event["prev_hash"] != previous or event["hash"] != expected:
                report.broken.append(
                    {"case": numbers.get(case_id, str(case_id)), "event_id": event["id"], "kind": event["kind"]}
                )
            last_hash[case_id] = event["hash"]
            report.events += 1
        after = batch[-1]["id"]
    return report
