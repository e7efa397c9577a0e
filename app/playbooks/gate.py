"""The playbook's gate on a push: a case that breaks the party's rules goes only with a written reason."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.cases import selectors as case_selectors
from app.cases.events import Actor
from app.playbooks import selectors, services
from app.playbooks.lookup import COUNTERPARTIES
from app.playbooks.readiness import Gap


@dataclass(frozen=True)
class PushGate:
    """The playbook rules a push breaks and the reason the handler gave for sending anyway."""

    party: str
    gaps: list[Gap] = field(default_factory=list)
    reason: str = ""


async def push_gate(number: str, party: str, reason: str) -> PushGate:
    """Before a push: a case that breaks the party's playbook goes only with a written reason (else a 422)."""
    if party not in COUNTERPARTIES:
        return PushGate(party)
    case = await case_selectors.case_get(number)
    ready = await selectors.case_readiness(case, party)
    return PushGate(party, ready.gaps, services.require_reason(ready.gaps, reason))


async def push_gate_record(*, actor: Actor, case_id: int, gate: PushGate) -> None:
    """After the push: the rules it broke and the handler's reason go on the staff timeline."""
    await services.record_override(actor=actor, case_id=case_id, party=gate.party, gaps=gate.gaps, reason=gate.reason)
