"""Staff side of collaboration: push a case, plan rounds, messages, disputes, claim pack, party answer times."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, ServerSentEvent, Template

from app.accounts.roles import DESK, MANAGERS
from app.cases import selectors as case_selectors
from app.cases.taxonomy import PARTIES, REMEDIES
from app.collaboration import claim_pack, selectors, services
from app.errors import NotFound
from app.evidence.services import UPLOAD_BODY_LIMIT
from app.i18n import gettext as _
from app.mail.outgoing import send_decision_mails, send_message_mail
from app.playbooks import gate as playbook_gate
from app.playbooks import selectors as playbooks
from app.settings import Settings
from app.tasks.push import enqueue_push
from app.web.auth import actor_for
from app.web.forms import FORM, Several, several
from app.web.pages import render, wants_fragment
from app.web.templates import request_environment
from app.web.threads import message_form, stream_of, wants_stream
from app.web.uploads import evidence_store

log = logging.getLogger("crossclaim.collaboration")


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@dataclass
class PushForm:
    party: str = ""
    email: str = ""
    language: str = ""
    requirement: str = ""
    reply_by: str = ""
    note: str = ""
    basis: Several = field(default_factory=list)  # the ticked grounds of the claim
    basis_note: str = ""
    attach_pack: str = ""
    playbook_reason: str = ""  # why a push goes although the party's playbook says something is missing


@dataclass
class PlanForm:
    party: str = ""
    remedy: str = ""
    amount: str = ""
    currency: str = ""
    ready_by: str = ""
    details: str = ""


@dataclass
class AcceptForm:
    payer: str = ""


@dataclass
class CustomerAnswerForm:
    answer: str = ""
    comment: str = ""


@dataclass
class ProgressForm:
    step: str = ""
    tracking_no: str = ""
    note: str = ""


@dataclass
class DisputeForm:
    reason: str = ""


@dataclass
class DecisionForm:
    decision: str = ""
    rationale: str = ""


@dataclass
class TimeZoneForm:
    time_zone: str = ""


# Sent with every changed region: the timeline and the deadlines panel reload themselves on it.
CHANGED = {"HX-Trigger": "case-changed"}


async def _back(request: Request[Any, Any, Any], number: str) -> Response[Any] | Template:
    """After a staff action: the collaboration panel as it now is (htmx), or back to the case page."""
    if wants_fragment(request):
        context = {"collab": await panel_context(number), "oob_node": True}
        return render(request, "cases/_collaboration.html", context, headers=CHANGED)
    return Redirect(path=f"/cases/{number}#collaboration", status_code=303)


async def panel_context(number: str, *, party: str = "") -> dict[str, Any]:
    case = await case_selectors.case_get(number)
    panel = await selectors.staff_panel(case, party=party)
    readiness = await playbooks.case_readiness(case, panel["suggested_party"])
    return {"case": case, "remedies": REMEDIES, "parties": PARTIES, "readiness": readiness, **panel}


@get("/cases/{number:str}/collaboration", opt={"roles": DESK}, name="collaboration_panel")
async def collaboration_panel(
    request: Request[Any, Any, Any], number: FromPath[str], party: FromQuery[str] = ""
) -> Template:
    """The panel; ``party`` (the case page's next step) opens the push form for that party."""
    return render(request, "cases/_collaboration.html", {"collab": await panel_context(number, party=party)})


@get("/cases/{number:str}/push/address", opt={"roles": DESK}, name="push_address")
async def push_address(request: Request[Any, Any, Any], number: FromPath[str], party: str = "") -> Template:
    """The address block for the chosen party (its known addresses), and the line saying who the push reaches."""
    case = await case_selectors.case_get(number)
    context = {"address": await selectors.push_address(case.id, party), "number": number, "oob": True}
    return render(request, "cases/_push_address.html", context)


@get("/cases/{number:str}/push/confirm", opt={"roles": DESK}, name="push_confirm")
async def push_confirm(
    request: Request[Any, Any, Any], number: FromPath[str], party: str = "", email: str = ""
) -> Template:
    case = await case_selectors.case_get(number)
    context = {"address": await selectors.push_address(case.id, party, email[:254]), "number": number, "oob": False}
    return render(request, "cases/_push_confirm.html", context)


@get("/cases/{number:str}/collaboration/live", opt={"roles": DESK}, name="collaboration_live")
async def collaboration_live(request: Request[Any, Any, Any], number: FromPath[str]) -> Template:
    """The regions parties change (answers, rounds, mediation, progress) and the step badge, for an open page."""
    context = {"collab": await panel_context(number), "oob_node": True}
    return render(request, "cases/_collab_live.html", context, headers=CHANGED)


@post("/cases/{number:str}/push", opt={"roles": DESK}, status_code=303)
async def case_push(
    request: Request[Any, Any, Any], number: FromPath[str], data: Annotated[PushForm, FORM]
) -> Response[Any] | Template:
    requirement = data.requirement
    reply_by = services.parse_date(data.reply_by, "reply_by") or date.min
    gate = await playbook_gate.push_gate(number, data.party, data.playbook_reason)
    attach_pack = data.attach_pack == "yes"
    pushed = await services.case_push(
        actor=actor_for(request),
        number=number,
        party=data.party,
        email=data.email.strip(),
        language=data.language,
        requirement=requirement,
        reply_by=reply_by,
        note=data.note,
        basis=several(data.basis),
        basis_note=data.basis_note,
        attach_pack=attach_pack,
    )
    await playbook_gate.push_gate_record(actor=actor_for(request), case_id=pushed.case.id, gate=gate)
    # Committed: the mail, the claim pack and SMTP are the worker's; the panel shows "sending" until it is done.
    settings: Settings = request.app.state.settings
    enqueue_push(settings, pushed, requirement=requirement, reply_by=reply_by, attach_pack=attach_pack)
    return await _back(request, number)


@post("/cases/{number:str}/push/retry", opt={"roles": DESK}, status_code=303)
async def case_push_retry(request: Request[Any, Any, Any], number: FromPath[str]) -> Response[Any] | Template:
    """Send a push whose mail failed again, with a fresh link (the failed mail's link is revoked)."""
    pushed, push = await services.push_retry(actor=actor_for(request), number=number)
    settings: Settings = request.app.state.settings
    reply_by = date.fromisoformat(str(push.get("reply_by")))
    requirement = str(push.get("requirement", ""))
    enqueue_push(
        settings, pushed, requirement=requirement, reply_by=reply_by, attach_pack=bool(push.get("attach_pack"))
    )
    return await _back(request, number)


@post("/cases/{number:str}/plan", opt={"roles": DESK}, status_code=303)
async def staff_propose(
    request: Request[Any, Any, Any], number: FromPath[str], data: Annotated[PlanForm, FORM]
) -> Response[Any] | Template:
    case = await case_selectors.case_get(number)
    await services.plan_propose(
        actor=actor_for(request),
        case_id=case.id,
        side="us",
        party=data.party or ((await selectors.latest_push(case.id)) or {}).get("party", ""),
        remedy=data.remedy,
        amount=services.parse_amount(data.amount),
        currency=data.currency or case.currency,
        ready_by=services.parse_date(data.ready_by, "ready_by"),
        details=data.details,
    )
    return await _back(request, number)


@post("/cases/{number:str}/plan/{proposal_id:str}/accept", opt={"roles": DESK}, status_code=303)
async def staff_accept_plan(
    request: Request[Any, Any, Any],
    number: FromPath[str],
    proposal_id: FromPath[str],
    data: Annotated[AcceptForm, FORM],
) -> Response[Any] | Template:
    case = await case_selectors.case_get(number)
    await services.plan_accept(
        actor=actor_for(request),
        case_id=case.id,
        proposal_id=int(proposal_id) if proposal_id.isdecimal() else 0,
        side="us",
        payer=data.payer,
    )
    return await _back(request, number)


@post("/cases/{number:str}/customer-answer", opt={"roles": DESK}, status_code=303)
async def customer_answer(
    request: Request[Any, Any, Any], number: FromPath[str], data: Annotated[CustomerAnswerForm, FORM]
) -> Response[Any] | Template:
    """The customer's answer to the agreed plan as the handler heard it (the tracking page records its own)."""
    await services.customer_answer(
        actor=actor_for(request),
        number=number,
        accepted=data.answer == "accept",
        comment=data.comment,
    )
    return await _back(request, number)


@post("/cases/{number:str}/progress", opt={"roles": DESK}, status_code=303)
async def staff_progress(
    request: Request[Any, Any, Any], number: FromPath[str], data: Annotated[ProgressForm, FORM]
) -> Response[Any] | Template:
    case = await case_selectors.case_get(number)
    await services.progress_update(
        actor=actor_for(request),
        case_id=case.id,
        step=data.step,
        tracking_no=data.tracking_no,
        note=data.note,
    )
    return await _back(request, number)


async def _thread(request: Request[Any, Any, Any], number: str, party: str) -> Template:
    case = await case_selectors.case_get(number)
    context = {
        **await selectors.thread_view(case.id, party),
        "post_url": f"/cases/{number}/messages/{party}",
        "file_prefix": "/evidence/",
        "live_url": f"/cases/{number}/collaboration/live",
    }
    return render(request, "collaboration/_thread.html", context)


@get("/cases/{number:str}/messages/{party:str}/stream", opt={"roles": DESK}, name="staff_thread_stream")
async def staff_thread_stream(
    request: Request[Any, Any, Any], number: FromPath[str], party: FromPath[str]
) -> Template | ServerSentEvent:
    party = party if party in services.COUNTERPARTIES else "supplier"
    if not wants_stream(request):
        return await _thread(request, number, party)
    case = await case_selectors.case_get(number)
    urls = {"post_url": f"/cases/{number}/messages/{party}", "file_prefix": "/evidence/"}
    return stream_of(request, case_id=case.id, party=party, urls=urls, watch_case=True)


@get("/cases/{number:str}/messages/{party:str}", opt={"roles": DESK}, name="staff_thread")
async def staff_thread(request: Request[Any, Any, Any], number: FromPath[str], party: FromPath[str]) -> Template:
    return await _thread(request, number, party if party in services.COUNTERPARTIES else "supplier")


@post(
    "/cases/{number:str}/messages/{party:str}",
    opt={"roles": DESK},
    request_max_body_size=UPLOAD_BODY_LIMIT,
    status_code=200,
)
async def staff_message(
    request: Request[Any, Any, Any], number: FromPath[str], party: FromPath[str]
) -> Response[Any] | Template:
    case = await case_selectors.case_get(number)
    actor = actor_for(request)
    if party not in services.COUNTERPARTIES:
        raise NotFound(_("There is nothing at this address."))
    form, evidence_ids = await message_form(request, number=number, actor=actor, party="us")
    message = await services.message_post(
        actor=actor, case_id=case.id, party=party, body=_field(form, "body"), evidence_ids=evidence_ids
    )
    await send_message_mail(request.app.state.settings, message_id=message.id)
    if not wants_fragment(request):
        return Redirect(path=f"/cases/{number}#collaboration", status_code=303)
    return await _thread(request, number, party)


@post("/cases/{number:str}/links/{link_id:str}/revoke", opt={"roles": DESK}, status_code=303)
async def link_revoke(
    request: Request[Any, Any, Any], number: FromPath[str], link_id: FromPath[str]
) -> Response[Any] | Template:
    await services.link_revoke(
        actor=actor_for(request), number=number, link_id=int(link_id) if link_id.isdecimal() else 0
    )
    return await _back(request, number)


@post("/cases/{number:str}/mediation", opt={"roles": DESK}, status_code=303)
async def dispute_open(
    request: Request[Any, Any, Any], number: FromPath[str], data: Annotated[DisputeForm, FORM]
) -> Response[Any]:
    case = await case_selectors.case_get(number)
    dispute = await services.dispute_open(actor=actor_for(request), case_id=case.id, opened_by="us", reason=data.reason)
    if wants_fragment(request):
        return Response(None, status_code=204, headers={"HX-Redirect": f"/disputes/{dispute.id}"})
    return Redirect(path=f"/disputes/{dispute.id}", status_code=303)


@get("/disputes", opt={"roles": MANAGERS}, name="dispute_queue")
async def dispute_queue(request: Request[Any, Any, Any]) -> Template:
    """The managers' queue: undecided disputes, the oldest first, with the amount and the deadlines on each."""
    return render(request, "collaboration/disputes.html", {"queue": await selectors.dispute_queue()})


@get("/disputes/{dispute_id:str}", opt={"roles": DESK}, name="dispute_page")
async def dispute_page(request: Request[Any, Any, Any], dispute_id: FromPath[str]) -> Template:
    context = await selectors.dispute_page(dispute_id)
    user = request.user
    return render(request, "collaboration/dispute.html", {**context, "can_decide": user.role in MANAGERS})


@post("/disputes/{dispute_id:str}/decide", opt={"roles": MANAGERS}, status_code=303)
async def dispute_decide(
    request: Request[Any, Any, Any], dispute_id: FromPath[str], data: Annotated[DecisionForm, FORM]
) -> Response[Any]:
    dispute = await services.dispute_decide(
        actor=actor_for(request),
        dispute_id=int(dispute_id) if dispute_id.isdecimal() else 0,
        decision=data.decision,
        rationale=data.rationale,
    )
    await send_decision_mails(request.app.state.settings, dispute_id=dispute.id)
    return Redirect(path=f"/disputes/{dispute.id}", status_code=303)


@get("/cases/{number:str}/claim-pack.pdf", opt={"roles": DESK}, name="claim_pack")
async def claim_pack_download(request: Request[Any, Any, Any], number: FromPath[str]) -> Response[bytes]:
    context = await claim_pack.claim_pack_context(number, store=evidence_store(request))
    pdf = await claim_pack.claim_pack_pdf(request_environment(request), context)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{number}-claim-pack.pdf"'},
    )


@get("/parties/{kind:str}/{party_id:str}", opt={"roles": DESK}, name="party_overview")
async def party_overview(request: Request[Any, Any, Any], kind: FromPath[str], party_id: FromPath[str]) -> Template:
    context = await selectors.party_overview(kind, party_id)
    return render(request, "collaboration/party_overview.html", {**context, "now": datetime.now(UTC)})


@post("/parties/{kind:str}/{party_id:str}/time-zone", opt={"roles": DESK}, status_code=303)
async def party_time_zone(
    kind: FromPath[str], party_id: FromPath[str], data: Annotated[TimeZoneForm, FORM]
) -> Response[Any]:
    await services.set_party_time_zone(kind, party_id, data.time_zone)
    return Redirect(path=f"/parties/{kind}/{party_id}", status_code=303)


@get("/parties", opt={"roles": DESK}, name="parties_index")
async def parties_index(request: Request[Any, Any, Any]) -> Template:
    return render(request, "collaboration/parties.html", {"parties": await selectors.parties_index()})


COLLABORATION_ROUTES: list[Any] = [
    parties_index,
    party_time_zone,
    collaboration_panel,
    collaboration_live,
    push_address,
    push_confirm,
    case_push,
    case_push_retry,
    staff_propose,
    staff_accept_plan,
    customer_answer,
    staff_progress,
    staff_thread,
    staff_thread_stream,
    staff_message,
    link_revoke,
    dispute_open,
    dispute_queue,
    dispute_page,
    dispute_decide,
    claim_pack_download,
    party_overview,
]
