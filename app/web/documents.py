"""What the JSON API shows of a case, by the reader's role (the case API and the intake API answer with it)."""

from __future__ import annotations

from typing import Any

from app.accounts.roles import CLAIM_FIGURES
from app.cases import selectors
from app.evidence.selectors import evidence_documents


async def case_api_document(number: str, *, role: str) -> dict[str, Any]:
    """One case as the API shows it to ``role``: without money and the hint outside CLAIM_FIGURES."""
    case = await selectors.case_get(number)
    events = await selectors.case_events(case.id)
    document = selectors.case_document(case, events, await evidence_documents(case.id))
    return document if role in CLAIM_FIGURES else selectors.without_claim_figures(document)
