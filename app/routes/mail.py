"""Staff side of inbound mail: the quarantine (assign to a case or reject), bouncing addresses, originals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.accounts.roles import DESK
from app.errors import NotFound
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.mail import ingest, selectors
from app.web.auth import actor_for
from app.web.forms import FORM
from app.web.pages import render, wants_fragment
from app.web.uploads import evidence_policy, evidence_store


def _id(raw: str) -> int:
    if not raw.isdecimal():
        raise NotFound(_("There is no such mail."))
    return int(raw)


@dataclass
class FileToCaseForm:
    number: str = ""  # the case the held mail belongs to
    party: str = ""  # who sent it


PARTY_LABELS = {"supplier": _l("Supplier"), "carrier": _l("Carrier"), "customer": _l("Customer")}


def _context(**extra: Any) -> dict[str, Any]:
    return {"parties": {party: PARTY_LABELS[party] for party in ingest.MAIL_PARTIES}, **extra}


async def _row_answer(request: Request[Any, Any, Any], inbound_id: int) -> Response[Any] | Template:
    if not wants_fragment(request):
        return Redirect(path="/mail/quarantine", status_code=303)
    row = await selectors.inbound_row(inbound_id)
    return render(request, "mail/quarantine.html", _context(row=row, held=[], failing=[]), block="row")


@get("/mail/quarantine", opt={"roles": DESK}, name="mail_quarantine")
async def quarantine_page(request: Request[Any, Any, Any]) -> Template:
    held = await selectors.quarantine_rows()
    failing = await selectors.failing_addresses()
    return render(request, "mail/quarantine.html", _context(held=held, failing=failing))


@post("/mail/quarantine/{inbound_id:str}/assign", opt={"roles": DESK}, status_code=200)
async def quarantine_assign(
    request: Request[Any, Any, Any], inbound_id: FromPath[str], data: Annotated[FileToCaseForm, FORM]
) -> Response[Any] | Template:
    row_id = _id(inbound_id)
    await ingest.quarantine_assign(
        actor=actor_for(request),
        inbound_id=row_id,
        number=data.number,
        party=data.party,
        settings=request.app.state.settings,
        store=evidence_store(request),
        policy=evidence_policy(request),
    )
    return await _row_answer(request, row_id)


@post("/mail/quarantine/{inbound_id:str}/reject", opt={"roles": DESK}, status_code=200)
async def quarantine_reject(request: Request[Any, Any, Any], inbound_id: FromPath[str]) -> Response[Any] | Template:
    row_id = _id(inbound_id)
    await ingest.quarantine_reject(actor=actor_for(request), inbound_id=row_id)
    return await _row_answer(request, row_id)


@get("/mail/inbound/{inbound_id:str}/original.eml", opt={"roles": DESK}, name="mail_original")
async def mail_original(request: Request[Any, Any, Any], inbound_id: FromPath[str]) -> Response[bytes]:
    """The mail exactly as received, as a download (never rendered: it may carry HTML and scripts)."""
    row = await selectors.inbound_row(_id(inbound_id))
    if row is None or not row["raw_key"]:
        raise NotFound(_("There is no such mail."))
    raw = evidence_store(request).get(row["raw_key"])
    return Response(
        raw,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="inbound-{row["id"]}.eml"'},
    )


MAIL_ROUTES: list[Any] = [quarantine_page, quarantine_assign, quarantine_reject, mail_original]
