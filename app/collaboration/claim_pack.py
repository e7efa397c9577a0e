"""The claim pack: one PDF with the claim letter, facts, hint, deadlines, timeline and evidence thumbnails."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from jinja2 import Environment

from app.cases.responsibility import hint_panel, json_object
from app.cases.tables import Case
from app.cases.taxonomy import PROBLEM_TYPES, REMEDIES
from app.collaboration import visibility
from app.collaboration.selectors import events_of, latest_push, party_proposals, proposals
from app.errors import NotFound
from app.evidence import selectors as evidence
from app.evidence.storage import EvidenceStore
from app.i18n import PLAN_STATUSES
from app.i18n import gettext as _
from app.rules.facts import FACTS

TEMPLATE = "pdf/claim_pack.html"


# A plan round's status (PlanProposal.status) as the pack names it.
async def claim_pack_context(number: str, *, store: EvidenceStore, party: str = "") -> dict[str, Any]:
    """What the pack says, read once; thumbnails are inlined so rendering needs no fetching."""
    case = (
        await Case.objects(Case.supplier, Case.carrier, Case.product, Case.customer)
        .where(Case.number == number)
        .first()
    )
    if case is None:
        raise NotFound(_("There is no case %(number)s.", number=number))
    hint = hint_panel(case, today=datetime.now(UTC).date())
    view = await visibility.party_view(case.id, party) if party else None
    files = []
    for row in await evidence.evidence_for_case(case.id):
        if row.status != evidence.OK or (view is not None and row.party not in (visibility.US, party)):
            continue
        thumb = ""
        if row.thumb_key:
            data = await anyio.to_thread.run_sync(store.get, row.thumb_key)
            media = row.web_media_type or "image/jpeg"
            thumb = f"data:{media};base64,{base64.b64encode(data).decode()}"
        files.append({"row": row, "thumb": thumb})
    addressee = party or hint.hint.get("party") or case.confirmed_party or "supplier"
    # A pack for a party carries only what its own page shows (the party view): never our hint, confidence,
    # deadlines, internal decisions or notes, nor another party's business.
    events = await visibility.party_events(view) if view else await events_of(case.id)
    events = [e for e in events if e["kind"] != "party_viewed"]
    partner = {"supplier": case.supplier, "carrier": case.carrier}.get(addressee)
    addressee_name = str(getattr(partner, "name", "") or "")
    return {
        "case": case,
        "addressee": addressee,
        "addressee_name": addressee_name,
        "party": party,
        "hint": None if party else hint,
        "push": await latest_push(case.id, party) if party else None,
        "facts": json_object(case.facts),
        "files": files,
        "events": events,
        "proposals": await party_proposals(view) if view else await proposals(case.id),
        "generated_at": datetime.now(UTC),
        "remedies": REMEDIES,
        "problem_types": PROBLEM_TYPES,
        "fact_specs": FACTS,
        "plan_statuses": PLAN_STATUSES,
    }


def render_pdf(environment: Environment, context: dict[str, Any]) -> bytes:
    """Blocking (WeasyPrint is CPU work): call through a worker thread."""
    from app.pdf import html_to_pdf

    return html_to_pdf(environment.get_template(TEMPLATE).render(**context))


async def claim_pack_pdf(environment: Environment, context: dict[str, Any]) -> bytes:
    return await anyio.to_thread.run_sync(render_pdf, environment, context)
