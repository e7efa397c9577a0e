"""Small reads of a playbook that lower contexts use: the push form's contact and a stage clock's limit.

It imports only tables, so the collaboration and tracking contexts can ask it without a cycle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.cases.tables import Case
from app.playbooks.tables import Playbook
from app.trade.tables import Carrier, Supplier

COUNTERPARTIES = ("supplier", "carrier")


@dataclass(frozen=True)
class Contact:
    """The claims contact a playbook names for a problem type and language."""

    name: str
    email: str
    language: str


def json_list(value: Any) -> list[Any]:
    """A JSON column's list, whether the driver returned it parsed or as text."""
    if isinstance(value, str):
        try:
            value = json.loads(value or "[]")
        except ValueError:
            return []
    return list(value) if isinstance(value, list) else []


def row_id(value: Any) -> int | None:
    """A foreign key's id, whether the case was read with its partners joined (a row) or not (an id)."""
    value = getattr(value, "id", value)
    return int(value) if isinstance(value, int) and value else None


async def playbook_of(kind: str, party_id: Any) -> Playbook | None:
    party_id = row_id(party_id)
    if kind not in COUNTERPARTIES or not party_id:
        return None
    return await Playbook.objects().where((Playbook.party_kind == kind) & (Playbook.party_id == party_id)).first()


def choose_contact(contacts: list[Any], *, problem_type: str, language: str) -> Contact | None:
    """The best contact: same problem type and language, then same problem type, then same language, then any."""

    def score(row: dict[str, Any]) -> tuple[int, int]:
        kind = str(row.get("problem_type") or "")
        lang = str(row.get("language") or "")
        if (kind and kind != problem_type) or (lang and lang != language):
            return (-1, -1)
        return (1 if kind else 0, 1 if lang else 0)

    rows = [row for row in contacts if isinstance(row, dict) and row.get("email")]
    ranked = sorted(rows, key=score, reverse=True)
    if not ranked or score(ranked[0])[0] < 0:
        return None
    best = ranked[0]
    return Contact(str(best.get("name") or ""), str(best["email"]), str(best.get("language") or language))


async def push_contact(case_id: int, party: str) -> Contact | None:
    """The contact the party's playbook names for this case's problem type, in the party's language."""
    if party not in COUNTERPARTIES:
        return None
    column = Case.supplier if party == "supplier" else Case.carrier
    case = await Case.select(Case.problem_type, column.as_alias("party")).where(Case.id == case_id).first()
    party_id = (case or {}).get("party")
    playbook = await playbook_of(party, party_id)
    if case is None or playbook is None:
        return None
    table = Supplier if party == "supplier" else Carrier
    record = await table.select(table.language).where(table.id == party_id).first()
    language = str((record or {}).get("language") or "en")
    return choose_contact(json_list(playbook.contacts), problem_type=case["problem_type"], language=language)


async def answer_hours(kind: str, party_id: Any) -> int | None:
    """How long the party says it takes to answer, in hours (None: the SLA policy's limit stands)."""
    party_id = row_id(party_id)
    if kind not in COUNTERPARTIES or not party_id:
        return None
    row = (
        await Playbook.select(Playbook.answer_hours)
        .where((Playbook.party_kind == kind) & (Playbook.party_id == party_id))
        .first()
    )
    hours = (row or {}).get("answer_hours")
    return int(hours) if hours else None
